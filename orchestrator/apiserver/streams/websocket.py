"""The WebSocket side for clients: exec/attach channels and the port-forward tunnel.

uvicorn (with the ``wsproto`` package) does the framing, answers every
ping with a pong (kubectl pings each 5 s and gives up after 61 s without a
pong) and sends a close frame when we close (a bare TCP close makes
kubectl exit 1 even after a Success status). This module decides:

- exactly one subprotocol, one the client offered: ``v5.channel.k8s.io``
  or ``v4.channel.k8s.io`` for exec/attach, ``SPDY/3.1+portforward.k8s.io``
  for port-forward (echoing one it did not offer makes kubectl fall back
  to SPDY after the command already ran);
- a request that fails its checks is refused before the upgrade (a 403
  from uvicorn): kubectl then falls back to SPDY, whose answer carries the
  error in Kubernetes' words.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from orchestrator.api import errors
from orchestrator.apiserver.authz.impersonation import acting_as
from orchestrator.apiserver.authz.streams import authorize_stream
from orchestrator.apiserver.streams import channels as ch
from orchestrator.apiserver.streams.sessions import StreamSettings, prepare, run_websocket
from orchestrator.apiserver.streams.upgrade import STREAM_PATH
from orchestrator.store.base import StoreUnavailable

if TYPE_CHECKING:
    from orchestrator.apiserver.app import APIState

log = logging.getLogger(__name__)


class AsgiSocket:
    """An accepted ASGI WebSocket as a ``MessageSocket``."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.closed = False

    async def receive(self) -> bytes | None:
        while not self.closed:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self.closed = True
            elif message["type"] == "websocket.receive" and message.get("bytes") is not None:
                return bytes(message["bytes"])
        return None

    async def send(self, message: bytes) -> None:
        if not self.closed:
            await self._send({"type": "websocket.send", "bytes": message})

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):  # the client may be gone already
                await self._send({"type": "websocket.close", "code": 1000})


async def serve_websocket(
    state: APIState, scope: Scope, receive: Receive, send: Send, settings: StreamSettings
) -> None:
    """An ASGI ``websocket`` scope: a streaming subresource, or refused."""
    match = STREAM_PATH.match(scope["path"])
    offered = list(scope.get("subprotocols") or [])
    if await receive() != {"type": "websocket.connect"}:
        return
    try:
        if match is None:
            raise errors.NotFound("the server could not find the requested resource")
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        user = state.auth.authenticate(authorization)
        if user is None:
            raise errors.Unauthorized("Unauthorized")
        user = acting_as(state.authorizer, user, scope["headers"])
        namespace, name, sub = match.groups()
        authorize_stream(state, user, namespace, name, sub)
        supported = (
            (ch.PORTFORWARD_TUNNEL,) if sub == "portforward" else ch.WEBSOCKET_EXEC_PROTOCOLS
        )
        protocol = ch.negotiate(offered, supported)
        if protocol is None:
            raise errors.BadRequest(f"none of the offered subprotocols {offered} is served here")
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        prepared = await prepare(state, state.types.require("", "Pod"), namespace, name, sub, query)
    except (errors.APIError, StoreUnavailable) as exc:
        log.info("refused WebSocket %s: %s", scope["path"], exc)
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept", "subprotocol": protocol})
    client = AsgiSocket(receive, send)
    try:
        await run_websocket(state, client, prepared, protocol, settings)
    finally:
        if prepared.node is not None:
            await prepared.node.close()
        await client.close()

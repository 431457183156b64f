"""SPDY/3.1 upgrades, taken over from uvicorn's HTTP protocol.

uvicorn (httptools and h11 alike) can answer a 101 only for WebSocket, so
``spdy_protocol(state)`` makes a subclass of its httptools protocol that
recognises ``Upgrade: SPDY/3.1`` on ``.../pods/{name}/exec|attach|
portforward`` and hands the connection (TLS already terminated) to
``SpdyConnection``. Everything else stays uvicorn's.

``SpdyConnection`` authenticates the token as every route does, picks the
first ``X-Stream-Protocol-Version`` the client offered that we speak
(several header lines), checks the request (``sessions.prepare``) and only
then answers ``101`` with ``X-Stream-Protocol-Version`` (without it
kubectl assumes v1: exit codes are lost and ``exec -i`` hangs). A refusal
is an ordinary HTTP answer with a ``Status`` body, which kubectl prints.
After the session, the client is given a few seconds to close first (it
sends RST_STREAM and GOAWAY), then the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from orchestrator.api import errors
from orchestrator.api.jsoncodec import dumps
from orchestrator.apiserver.authz.impersonation import acting_as
from orchestrator.apiserver.authz.streams import authorize_stream
from orchestrator.apiserver.streams import channels as ch
from orchestrator.apiserver.streams.sessions import (
    StreamSettings,
    prepare,
    run_spdy,
    stream_handler,
)
from orchestrator.apiserver.streams.spdysession import SpdySession
from orchestrator.store.base import StoreUnavailable

if TYPE_CHECKING:
    from orchestrator.apiserver.app import APIState

log = logging.getLogger(__name__)
STREAM_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/(exec|attach|portforward)/?$")
Headers = list[tuple[bytes, bytes]]
Query = list[tuple[str, str]]
StreamPath = tuple[str, str, str]  # namespace, pod, subresource
_MAX_EARLY_BYTES = 1024 * 1024  # what a client may send before the session starts
_CLIENT_CLOSE_GRACE = 5.0  # kubectl closes within milliseconds of the last FIN


def spdy_protocol(
    state: APIState, settings: StreamSettings | None = None
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, plus SPDY upgrades on the streaming paths."""
    stream_settings = settings or StreamSettings()

    class SpdyUpgradingProtocol(HttpToolsProtocol):
        _spdy_path: StreamPath | None = None

        def _should_upgrade(self) -> bool:
            if self._get_upgrade() == b"spdy/3.1":
                match = STREAM_PATH.match(urlsplit(self.url.decode("latin-1")).path)
                if match:
                    ns, name, sub = (unquote(g) for g in match.groups())
                    self._spdy_path = (ns, name, sub)
                    return True
            return super()._should_upgrade()

        def handle_websocket_upgrade(self) -> None:
            if self._spdy_path is None:
                super().handle_websocket_upgrade()
                return
            self.connections.discard(self)
            connection = SpdyConnection(
                state,
                stream_settings,
                self.transport,
                self.connections,
            )
            self.transport.set_protocol(connection)
            query = parse_qsl(urlsplit(self.url.decode("latin-1")).query, keep_blank_values=True)
            connection.start(self._spdy_path, query, list(self.headers))

    return SpdyUpgradingProtocol


class SpdyConnection(asyncio.Protocol):
    """One upgraded connection: checks, the 101, then a SPDY session on the raw transport."""

    def __init__(
        self,
        state: APIState,
        settings: StreamSettings,
        transport: asyncio.Transport,
        connections: set[Any],
    ) -> None:
        self.state = state
        self.settings = settings
        self.transport = transport
        self.connections = connections
        self.session: SpdySession | None = None
        self._early = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._lost = False
        connections.add(self)

    # uvicorn's shutdown calls this on every connection it tracks
    def shutdown(self) -> None:
        if self.session is not None:
            self.session.feed_eof()
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.feed(data)
        elif len(self._early) + len(data) > _MAX_EARLY_BYTES:
            self.transport.abort()  # frames before the 101 are a few hundred bytes at most
        else:
            self._early += data

    def eof_received(self) -> bool | None:
        if self.session is not None:
            self.session.feed_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.connections.discard(self)
        if self.session is not None:
            self.session.feed_eof()

    def write(self, data: bytes) -> None:
        if not self._lost and not self.transport.is_closing():
            self.transport.write(data)

    def start(self, path: StreamPath, query: Query, headers: Headers) -> None:
        self._task = asyncio.create_task(self._serve(path, query, headers))

    async def _serve(self, path: StreamPath, query: Query, headers: Headers) -> None:
        namespace, name, sub = path
        try:
            try:
                offered = _values(headers, b"x-stream-protocol-version")
                protocol = self._authorize_and_negotiate(headers, path, offered)
                pods = self.state.types.require("", "Pod")
                prepared = await prepare(self.state, pods, namespace, name, sub, query)
            except errors.APIError as exc:
                self._refuse(exc)
                return
            except StoreUnavailable as exc:
                self._refuse(errors.ServiceUnavailable(f"storage is unavailable: {exc}"))
                return
            handler = stream_handler(self.state, prepared, protocol, self.settings)
            answer = [
                b"HTTP/1.1 101 Switching Protocols",
                b"Connection: Upgrade",
                b"Upgrade: SPDY/3.1",
            ]
            if protocol and offered:
                answer.append(b"X-Stream-Protocol-Version: " + protocol.encode())
            self.write(b"\r\n".join(answer) + b"\r\n\r\n")
            self.session = SpdySession(self.write, handler.on_stream)
            if self._lost:
                self.session.feed_eof()
            elif self._early:
                self.session.feed(bytes(self._early))
                self._early.clear()
            await run_spdy(self.session, handler, prepared, protocol, self.settings)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.session.closed.wait(), _CLIENT_CLOSE_GRACE)
        except Exception:
            log.exception("SPDY session for pod %s/%s failed", namespace, name)
        finally:
            self.transport.close()

    def _authorize_and_negotiate(
        self, headers: Headers, path: StreamPath, offered: list[str]
    ) -> str:
        namespace, name, sub = path
        authorization = next(iter(_values(headers, b"authorization")), None)
        user = self.state.auth.authenticate(authorization)
        if user is None:
            raise errors.Unauthorized("Unauthorized")
        user = acting_as(self.state.authorizer, user, headers)
        authorize_stream(self.state, user, namespace, name, sub)
        supported = (ch.PORTFORWARD_PROTOCOL,) if sub == "portforward" else ch.SPDY_EXEC_PROTOCOLS
        if not offered:
            return "channel.k8s.io" if sub != "portforward" else ch.PORTFORWARD_PROTOCOL
        protocol = ch.negotiate(offered, supported)
        if protocol is None:
            raise errors.Forbidden(
                "unable to upgrade: unable to negotiate protocol: client supports "
                f"{offered}, server supports {list(supported)}"
            )
        return protocol

    def _refuse(self, exc: errors.APIError) -> None:
        body = dumps(exc.to_status())
        head = (
            f"HTTP/1.1 {exc.code} {_REASONS.get(exc.code, 'Error')}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        self.write(head.encode() + body)


def _values(headers: Headers, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in headers if k == name]


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

"""port-forward: each pair of SPDY streams becomes one WebSocket to the node.

kubectl opens, per accepted local TCP connection, an ``error`` and a
``data`` stream carrying the same ``requestid`` and the remote ``port``
(reference section 3.5). When both have arrived the pair is forwarded
over its own node WebSocket (``/portForward/{ns}/{pod}?port=P``, the
kubelet's v4 channel protocol: channel 0 data, channel 1 error text, the
node's first message on each channel being the port as two bytes).

- node data -> DATA on the data stream; node error text -> the error
  stream (kubectl then ends the whole session, as on Kubernetes); a node
  that refuses the WebSocket (the pod is gone) is an error text too;
- client data -> channel 0; the client's FIN on the data stream cannot be
  passed on (the v4 protocol has no half-close), so the node's answer is
  relayed until it pauses for ``half_close_idle`` seconds, then the pair
  is closed;
- when the node closes: FIN on data and on error, with no payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.apiserver.nodeproxy import NodeProxy, NodeSocket
from orchestrator.apiserver.streams.channels import until_first
from orchestrator.apiserver.streams.spdysession import SpdySession, SpdyStream
from orchestrator.apiserver.streams.target import PodStream

log = logging.getLogger(__name__)
NODE_PROTOCOL = "v4.channel.k8s.io"


@dataclass(frozen=True)
class PortForwardSettings:
    # After the client half-closed, how long a silent node is waited for: HTTP clients close
    # only after the answer, so this matters only to clients that half-close and then read.
    half_close_idle: float = 2.0
    # A pair whose second stream never comes is dropped (Kubernetes waits 30 s as well).
    pair_timeout: float = 30.0


class PortForwarder:
    """Collects stream pairs of one session and forwards each to the node."""

    def __init__(
        self, target: PodStream, proxy: NodeProxy, settings: PortForwardSettings | None = None
    ) -> None:
        self.target = target
        self.proxy = proxy
        self.settings = settings or PortForwardSettings()
        self._pending: dict[str, dict[str, SpdyStream]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: SpdyStream) -> None:
        """SpdySession's callback: pair streams by request id, forward complete pairs."""
        kind = stream.headers.get("streamtype", "")
        request_id = stream.headers.get("requestid", "")
        if kind not in ("data", "error"):
            stream.reset()
            return
        pair = self._pending.setdefault(request_id, {})
        pair[kind] = stream
        if len(pair) == 2:
            del self._pending[request_id]
            task = asyncio.create_task(self._forward(pair["data"], pair["error"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def run(self, session: SpdySession) -> None:
        """Until the session ends; then every pair still open is closed."""
        try:
            await session.closed.wait()
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _forward(self, data: SpdyStream, error: SpdyStream) -> None:
        port = data.headers.get("port", "")
        t = self.target
        if not (port.isascii() and port.isdigit()) or len(port) > 5 or not 0 < int(port) < 65536:
            error.write(f"invalid port {port!r}: must be a number from 1 to 65535".encode())
            error.close()
            data.close()
            return
        try:
            node = await self.proxy.open_websocket(
                t.endpoint,
                t.node_path(),
                [("port", port), ("podUID", t.uid)],
                (NODE_PROTOCOL,),
            )
        except errors.APIError as exc:
            error.write(
                f"error forwarding port {port} to pod {t.pod}, uid {t.uid}: {exc.message}".encode()
            )
            error.close()
            data.close()
            return
        try:
            await self._relay(node, data, error)
        finally:
            data.close()
            error.close()
            await node.close()

    async def _relay(self, node: NodeSocket, data: SpdyStream, error: SpdyStream) -> None:
        half_closed = asyncio.Event()
        activity = asyncio.Event()  # set by each message from the node

        async def client_to_node() -> None:
            while chunk := await data.read():
                await node.send(b"\x00" + chunk)
            half_closed.set()
            await asyncio.Event().wait()  # the other side decides when the pair ends

        async def node_to_client() -> None:
            seen_port: set[int] = set()
            while (message := await node.receive()) is not None:
                activity.set()
                if not message:
                    continue
                channel, payload = message[0], message[1:]
                if channel not in seen_port:  # the node's first message: the port, 2 bytes LE
                    seen_port.add(channel)
                    payload = payload[2:]
                if payload and channel == 0:
                    data.write(payload)
                elif payload and channel == 1:
                    error.write(payload)

        async def quiet_after_half_close() -> None:
            await half_closed.wait()
            while True:
                activity.clear()
                try:
                    await asyncio.wait_for(activity.wait(), self.settings.half_close_idle)
                except TimeoutError:
                    return

        await until_first(client_to_node(), node_to_client(), quiet_after_half_close())

"""Running one client session, whatever carries it, once the request was checked.

``prepare`` does everything that can fail before the upgrade (so the
client gets an HTTP error in Kubernetes' words, not a broken stream):
resolving the pod (``target.resolve``) and, for exec and attach, opening
the node's WebSocket. Then:

- ``run_spdy`` takes a ``SpdySession`` over any byte transport: exec and
  attach wait for the streams the options call for (error, and stdin,
  stdout, stderr, resize as asked) before relaying; port-forward forwards
  stream pairs until the session ends;
- ``run_websocket`` serves a client WebSocket: channel protocols pass
  through to the node, the port-forward tunnel feeds its messages into a
  ``SpdySession`` and sends each frame back as one message.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.api.resources import ResourceType
from orchestrator.apiserver.nodeproxy import NodeSocket
from orchestrator.apiserver.streams import channels as ch
from orchestrator.apiserver.streams.channels import MessageSocket, until_first
from orchestrator.apiserver.streams.execrelay import relay_spdy, relay_websocket
from orchestrator.apiserver.streams.portforward import PortForwarder, PortForwardSettings
from orchestrator.apiserver.streams.spdysession import SpdySession, SpdyStream
from orchestrator.apiserver.streams.target import PodStream, StreamOptions, resolve

if TYPE_CHECKING:
    from orchestrator.apiserver.app import APIState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSettings:
    # How long kubectl gets to open the streams its options call for (Kubernetes: 30 s).
    stream_creation_timeout: float = 30.0
    portforward: PortForwardSettings = field(default_factory=PortForwardSettings)


@dataclass
class Prepared:
    target: PodStream
    node: NodeSocket | None  # exec/attach: the node's WebSocket, already open


async def prepare(
    state: APIState,
    pods: ResourceType,
    namespace: str,
    name: str,
    sub: str,
    query: list[tuple[str, str]],
) -> Prepared:
    target = await resolve(state.registry, pods, namespace, name, sub, query)
    node = None
    if sub != "portforward":
        node = await state.nodes.open_websocket(
            target.endpoint, target.node_path(), target.node_params(), (ch.V5, ch.V4)
        )
    return Prepared(target, node)


def expected_streams(options: StreamOptions, protocol: str) -> set[str]:
    names = {"error"}
    if options.stdin:
        names.add("stdin")
    if options.stdout:
        names.add("stdout")
    if options.stderr and not options.tty:
        names.add("stderr")
    if options.tty and protocol not in ("channel.k8s.io", "v2.channel.k8s.io"):
        names.add("resize")
    return names


class StreamCollector:
    """Gathers an exec/attach session's streams by type until the expected ones are there."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.streams: dict[str, SpdyStream] = {}
        self.complete = asyncio.Event()

    def on_stream(self, stream: SpdyStream) -> None:
        kind = stream.headers.get("streamtype", "")
        if kind not in ch.STREAM_NAMES or kind in self.streams:
            stream.reset()
            return
        self.streams[kind] = stream
        if self.expected <= self.streams.keys():
            self.complete.set()


def stream_handler(
    state: APIState, prepared: Prepared, protocol: str, settings: StreamSettings
) -> StreamCollector | PortForwarder:
    """What takes the session's streams as they open, for ``prepared``'s kind of request."""
    if prepared.target.subresource == "portforward":
        return PortForwarder(prepared.target, state.nodes, settings.portforward)
    return StreamCollector(expected_streams(prepared.target.options, protocol))


async def run_spdy(
    session: SpdySession,
    handler: StreamCollector | PortForwarder,
    prepared: Prepared,
    protocol: str,
    settings: StreamSettings,
) -> None:
    """Serve the session until it or the node ends it."""
    if isinstance(handler, PortForwarder):
        await handler.run(session)
        return
    assert prepared.node is not None
    try:
        await until_first(
            asyncio.wait_for(handler.complete.wait(), settings.stream_creation_timeout),
            session.closed.wait(),
        )
        if not handler.complete.is_set():
            log.info(
                "exec session for pod %s ended before its streams came: %s of %s",
                prepared.target.pod,
                sorted(handler.streams),
                sorted(handler.expected),
            )
            return
        await relay_spdy(handler.streams, protocol, prepared.node)
    finally:
        await prepared.node.close()


async def run_websocket(
    state: APIState,
    client: MessageSocket,
    prepared: Prepared,
    protocol: str,
    settings: StreamSettings,
) -> None:
    """Serve an accepted client WebSocket."""
    if prepared.node is not None:
        await relay_websocket(client, protocol, prepared.node)
        return
    outgoing: asyncio.Queue[bytes] = asyncio.Queue()
    forwarder = PortForwarder(prepared.target, state.nodes, settings.portforward)
    session = SpdySession(outgoing.put_nowait, forwarder.on_stream)

    async def client_to_session() -> None:
        while (message := await client.receive()) is not None:
            session.feed(message)
        session.feed_eof()

    async def session_to_client() -> None:
        while True:
            await client.send(await outgoing.get())

    await until_first(client_to_session(), session_to_client(), forwarder.run(session))
    await client.close()

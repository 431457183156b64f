"""exec and attach: the client's streams relayed to the node agent's WebSocket.

The node always speaks the kubelet's WebSocket channel protocol (v5 where
it agreed, else v4). Two client sides:

- a WebSocket (v5 or v4): messages pass through as they are; only the
  node's ``[255, N]`` close notes are dropped for a v4 client, which has no
  such message;
- SPDY (any version): each stream is a channel. stdin DATA -> channel 0,
  stdin FIN -> ``[255, 0]`` (what lets ``cat`` and ``tar -x`` end), resize
  JSON lines -> channel 4; node output -> DATA on stdout/stderr, the
  node's Status -> the error stream (plain text for v1-v3), and when the
  node closes, FIN on every stream we write.

The relay ends when the node closes (the command ended: its status was
sent) or the client goes; either way both sides are closed.
"""

from __future__ import annotations

import asyncio
import contextlib

from orchestrator.apiserver.nodeproxy import NodeSocket
from orchestrator.apiserver.streams import channels as ch
from orchestrator.apiserver.streams.channels import MessageSocket, until_first
from orchestrator.apiserver.streams.spdysession import SpdyStream


async def relay_websocket(client: MessageSocket, client_protocol: str, node: NodeSocket) -> None:
    """Pass messages both ways until either side closes; then close the other."""
    drop_close_notes = client_protocol != ch.V5

    async def node_to_client() -> None:
        while (message := await node.receive()) is not None:
            if drop_close_notes and message[:1] == bytes([ch.CLOSE]):
                continue
            await client.send(message)

    async def client_to_node() -> None:
        while (message := await client.receive()) is not None:
            if message[:1] == bytes([ch.CLOSE]) and node.protocol != ch.V5:
                continue
            await node.send(message)

    await until_first(node_to_client(), client_to_node())
    await node.close()
    await client.close()


async def relay_spdy(streams: dict[str, SpdyStream], protocol: str, node: NodeSocket) -> None:
    """Relay a SPDY exec/attach session's streams to the node until the node ends it."""
    outputs = {
        ch.STDOUT: streams.get("stdout"),
        ch.STDERR: streams.get("stderr"),
        ch.ERROR: streams.get("error"),
    }
    plain_errors = protocol not in (ch.V4, ch.V5)

    async def node_to_client() -> None:
        while (message := await node.receive()) is not None:
            if not message:
                continue
            channel, payload = message[0], message[1:]
            if channel == ch.CLOSE and payload:
                stream = outputs.get(payload[0])
                if stream is not None:
                    stream.close()
                continue
            stream = outputs.get(channel)
            if stream is None:
                continue
            if channel == ch.ERROR and plain_errors:
                payload = ch.status_as_text(payload)
            stream.write(payload)

    async def stdin_to_node(stream: SpdyStream) -> None:
        while chunk := await stream.read():
            await node.send(bytes([ch.STDIN]) + chunk)
        if node.protocol == ch.V5 and not stream.session.closed.is_set():
            await node.send(bytes([ch.CLOSE, ch.STDIN]))

    async def resize_to_node(stream: SpdyStream) -> None:
        pending = b""
        while chunk := await stream.read():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    await node.send(bytes([ch.RESIZE]) + line)

    inputs: list[asyncio.Task[None]] = []
    if "stdin" in streams:
        inputs.append(asyncio.create_task(stdin_to_node(streams["stdin"])))
    if "resize" in streams:
        inputs.append(asyncio.create_task(resize_to_node(streams["resize"])))
    session = next(iter(streams.values())).session
    try:
        await until_first(node_to_client(), session.closed.wait())
    finally:
        for task in inputs:
            task.cancel()
        for task in inputs:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for stream in outputs.values():
            if stream is not None:
                stream.close()
        await node.close()

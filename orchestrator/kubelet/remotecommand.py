"""Kubernetes' remote command protocol over a WebSocket: the node's side of exec and attach.

The API server relays ``kubectl exec|attach|cp`` here (``GET /exec/...``,
``GET /attach/...`` upgraded to a WebSocket) speaking the kubelet's own
channel protocol, subprotocol ``v5.channel.k8s.io`` or ``v4.channel.k8s.io``
(the one offered is echoed; v5 is preferred). Every message is binary,
``[channel][data]``:

    0 stdin   client -> node     1 stdout  node -> client
    2 stderr  node -> client (none with a tty)
    3 error   node -> client: ONE Status JSON, then the close frame
    4 resize  client -> node: {"Width": W, "Height": H}
    255 close client -> node (v5 only): [255, N], no more data on channel N

Order of the end: the session's output has ended (the process closed its
stdout and stderr), its exit code is known, the Status goes out on channel
3, and the socket is closed with a close frame (kubectl counts a missing
close frame as an error, even after a Success). If the client goes first,
the session is closed (an exec is killed). Pings are answered by aiohttp
(``autoping``); kubectl's read deadline needs those pongs.

Query parsing lives here too: kubelet's names (``input``, ``output``,
``error``, ``tty``, ``command``) and the API server's (``stdin``,
``stdout``, ``stderr``) are both taken, as are the values ``1`` and ``true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web
from multidict import MultiMapping

from orchestrator.kubelet.runtimes.base import StreamOptions, StreamSession

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")  # preferred first
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
SUCCESS: dict[str, Any] = {"metadata": {}, "status": "Success"}
_TRUE = ("1", "true", "True", "TRUE", "t", "T", "")


class StreamRequestError(Exception):
    """A request refused before the upgrade; ``status`` is the HTTP code to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _flag(query: Mapping[str, str], *names: str) -> bool:
    return any(name in query and query[name] in _TRUE for name in names)


def stream_options(query: Mapping[str, str]) -> StreamOptions:
    """Which streams the request asks for; at least one, and no stderr with a tty."""
    tty = _flag(query, "tty")
    options = StreamOptions(
        stdin=_flag(query, "input", "stdin"),
        stdout=_flag(query, "output", "stdout"),
        stderr=_flag(query, "error", "stderr") and not tty,
        tty=tty,
    )
    if not (options.stdin or options.stdout or options.stderr):
        raise StreamRequestError(400, "you must specify at least 1 of stdin, stdout, stderr")
    return options


def exec_command(query: MultiMapping[str]) -> list[str]:
    """The ``command`` parameters in order; 400 without one."""
    argv = list(query.getall("command", []))
    if not argv:
        raise StreamRequestError(400, "you must specify at least one command for the container")
    return argv


def failure(message: str, reason: str = "InternalError", code: int = 500) -> dict[str, Any]:
    """A Failure Status for the error channel."""
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


def exit_status(code: int, argv: list[str]) -> dict[str, Any]:
    """Success, or the NonZeroExitCode Failure kubectl turns into its own exit code."""
    if code == 0:
        return SUCCESS
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        f"[{' '.join(argv)}], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def resize_of(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a resize message; None when it is not one."""
    try:
        size = json.loads(data)
        width, height = int(size["Width"]), int(size["Height"])
    except (ValueError, KeyError, TypeError):
        return None
    return (width, height) if 0 <= width < 65536 and 0 <= height < 65536 else None


async def upgrade(request: web.Request, protocols: tuple[str, ...]) -> web.WebSocketResponse:
    """The WebSocket answer, echoing the first of ``protocols`` the client offered."""
    ws = web.WebSocketResponse(protocols=protocols, autoping=True, heartbeat=None)
    await ws.prepare(request)
    return ws


async def send_status(ws: web.WebSocketResponse, status: dict[str, Any]) -> None:
    """The error channel's one Status, then the close frame."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close()


async def serve_session(ws: web.WebSocketResponse, session: StreamSession, argv: list[str]) -> None:
    """Bridge ``session`` and the socket until the session ends or the client goes.

    ``argv`` is the exec'd command, named in a non-zero exit's Status.
    """
    v5 = ws.ws_protocol == PROTOCOLS[0]
    inbound = asyncio.create_task(_inbound(ws, session, v5))
    try:
        outbound = asyncio.create_task(_outbound(ws, session))
        done, _ = await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
        if outbound not in done:  # the client went away first
            outbound.cancel()
            await session.close()
            return
        code = outbound.result()
        await _stop(inbound)  # the close handshake reads the rest of the client's messages
        await send_status(ws, exit_status(code, argv))
    finally:
        await _stop(inbound)
        await session.close()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await task


async def _outbound(ws: web.WebSocketResponse, session: StreamSession) -> int:
    while (item := await session.read()) is not None:
        channel, data = item
        if data:
            await ws.send_bytes(bytes([channel]) + data)
    return await session.wait()


async def _inbound(ws: web.WebSocketResponse, session: StreamSession, v5: bool) -> None:
    """Client messages until it closes: stdin, resizes, and (v5) the end of stdin."""
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, data = msg.data[0], msg.data[1:]
        if channel == STDIN:
            await session.write(data)
        elif channel == RESIZE:
            size = resize_of(data)
            if size is not None:
                await session.resize(*size)
        elif channel == CLOSE and v5 and data[:1] == bytes([STDIN]):
            await session.close_stdin()

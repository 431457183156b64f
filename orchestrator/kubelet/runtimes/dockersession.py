"""Interactive exec and attach on the Docker engine (``kubectl exec -it``, ``attach``, ``cp``).

The engine hands over a raw stream by "hijacking" an HTTP request: ``POST
/exec/{id}/start`` or ``POST /containers/{id}/attach`` with ``Upgrade:
tcp``, answered ``101`` (or ``200`` by old engines), after which the
connection carries stdin one way and output the other. That request is
made here with asyncio rather than with the SDK's ``socket=True``, because
the SDK reads the answer's headers through a buffered reader that may have
swallowed the first bytes of output; asyncio's reader keeps them. So the
stream needs no thread. Creating, inspecting and resizing go through the
SDK, in threads, as the runtime's other calls.

Without a tty the engine multiplexes stdout and stderr in frames with an
8-byte header (stream type, three zero bytes, length big-endian); with a
tty the output is the terminal's bytes as they come. The end of stdin is a
half-close of the connection (the engine's client does the same). The exit
code of an exec is the engine's ``ExitCode`` once it stops running; an
attach ends when the container does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from orchestrator.kubelet.runtimes.base import StreamError, StreamOptions

READ_SIZE = 65536


async def hijack(
    url: str, version: str, path: str, query: dict[str, Any], body: dict[str, Any] | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The raw stream of ``POST path`` on the engine at ``url``; StreamError when refused."""
    where = urlsplit(url)
    if where.scheme == "unix":
        reader, writer = await asyncio.open_unix_connection(where.path)
    elif where.scheme in ("tcp", "http"):
        reader, writer = await asyncio.open_connection(where.hostname, where.port or 2375)
    else:
        raise StreamError(f"interactive sessions need a local or plain TCP engine, not {url}")
    payload = json.dumps(body).encode() if body is not None else b""
    target = f"/v{version}{path}" + (f"?{urlencode(query)}" if query else "")
    head = (
        f"POST {target} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    try:
        writer.write(head.encode() + payload)
        status_line = await reader.readline()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = status_line.split()
        status = int(parts[1]) if len(parts) > 1 else 0
        if status not in (101, 200):
            length = int(headers.get("content-length", "0") or 0)
            text = (await reader.read(length) if length else b"").decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                text = json.loads(text).get("message", text)
            raise StreamError(text.strip() or f"the engine answered {status}")
    except BaseException:
        writer.close()
        raise
    return reader, writer


class DockerSession:
    """One hijacked exec or attach stream, demultiplexed into ``(channel, data)``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        options: StreamOptions,
        *,
        resize: Callable[[int, int], Awaitable[None]],
        exit_code: Callable[[], Awaitable[int]],
        kill: Callable[[], Awaitable[None]],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._options = options
        self._resize = resize
        self._exit_code = exit_code
        self._kill = kill
        self._ended = False

    async def read(self) -> tuple[int, bytes] | None:
        while not self._ended:
            item = await self._next()
            if item is None:
                self._ended = True
                return None
            if self._options.stdout if item[0] == 1 else self._options.stderr:
                return item
        return None

    async def _next(self) -> tuple[int, bytes] | None:
        try:
            if self._options.tty:
                chunk = await self._reader.read(READ_SIZE)
                return (1, chunk) if chunk else None
            header = await self._reader.readexactly(8)
            data = await self._reader.readexactly(int.from_bytes(header[4:8], "big"))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return (2 if header[0] == 2 else 1), data

    async def write(self, data: bytes) -> None:
        if self._options.stdin and not self._writer.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._writer.write(data)
                await self._writer.drain()

    async def close_stdin(self) -> None:
        if self._writer.can_write_eof() and not self._writer.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                self._writer.write_eof()

    async def resize(self, width: int, height: int) -> None:
        if self._options.tty:
            await self._resize(width, height)

    async def wait(self) -> int:
        return await self._exit_code()

    async def close(self) -> None:
        if not self._ended:
            await self._kill()
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()

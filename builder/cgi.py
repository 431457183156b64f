"""``git http-backend`` as a CGI child, one per request (reference/git-push.md, section 1).

The child gets a clean environment (``cgi_environ``): only what the CGI
contract names, plus what the hooks need (``PATH``, ``HOME``, the builder's
own ``PAAS_*`` variables). ``CONTENT_LENGTH`` is set only when the request
had one: a chunked push (every pack over git's 1 MiB ``http.postBuffer``)
with ``CONTENT_LENGTH=0`` is cut short. The body is never decompressed
here; ``HTTP_CONTENT_ENCODING`` tells http-backend to inflate it.

The request body is spooled to a file before the child starts and given as
its stdin, so the whole pack is in hand before any output streams (Starlette
discards request messages while a streaming response runs).

Output: headers up to the first blank line, ``Status:`` anywhere among them
or absent (200), duplicates tolerated; then the body in reads of whatever is
there, so hook output reaches the pusher line by line. A pusher that goes
away does not stop the child: the reader keeps draining its stdout until it
exits, so a build that was accepted still finishes and the ref moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

log = logging.getLogger(__name__)

READ_SIZE = 65536
MAX_HEADER = 64 * 1024  # http-backend's headers are a few hundred bytes


class CGIError(Exception):
    """The child broke the CGI contract (no header block, exited early)."""


@dataclass(frozen=True)
class CGIRequest:
    """What the CGI child is told about one request."""

    method: str
    path_info: str  # inside the project root: /<namespace>/<app>.git/info/refs
    query: str
    content_type: str = ""
    content_length: str = ""  # "" = the request had none (chunked)
    content_encoding: str = ""
    git_protocol: str = ""
    remote_user: str = ""
    remote_addr: str = ""


def cgi_environ(
    req: CGIRequest, project_root: str, inherited: Mapping[str, str], extra: Mapping[str, str]
) -> dict[str, str]:
    """The child's whole environment: the CGI variables, ``PATH``/``HOME`` and ``extra``."""
    env = {key: inherited[key] for key in ("PATH", "HOME", "LANG") if key in inherited}
    env.update(
        GIT_PROJECT_ROOT=project_root,
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=req.path_info,
        QUERY_STRING=req.query,
        REQUEST_METHOD=req.method,
        REMOTE_ADDR=req.remote_addr,
        GATEWAY_INTERFACE="CGI/1.1",
    )
    if req.content_type:
        env["CONTENT_TYPE"] = req.content_type
    if req.content_length:
        env["CONTENT_LENGTH"] = req.content_length
    if req.content_encoding:
        env["HTTP_CONTENT_ENCODING"] = req.content_encoding
    if req.git_protocol:
        env["GIT_PROTOCOL"] = req.git_protocol
    if req.remote_user:
        env["REMOTE_USER"] = req.remote_user
    env.update(extra)
    return env


def parse_headers(block: bytes) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers of a CGI header block (without its blank line)."""
    status = 200
    headers: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r").decode("latin-1")
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
            continue
        if (name.lower(), value) in seen:  # the 403 answer repeats its cache headers
            continue
        seen.add((name.lower(), value))
        headers.append((name, value))
    return status, headers


@dataclass
class CGIResponse:
    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]


async def run_cgi(
    argv: list[str],
    env: dict[str, str],
    stdin: BinaryIO,
    *,
    on_exit: Callable[[int], Awaitable[None]] | None = None,
    keep: set[asyncio.Task[None]] | None = None,
    children: set[asyncio.subprocess.Process] | None = None,
) -> CGIResponse:
    """Start the child and read its headers; the body streams from ``CGIResponse.body``.

    ``on_exit`` runs once the child has exited, whether or not anyone read the
    body to its end (``keep`` holds the draining task meanwhile).
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # a Ctrl-C at the server's terminal does not reach builds
    )
    assert proc.stdout is not None and proc.stderr is not None
    running = children if children is not None else set()
    running.add(proc)
    stderr_task = asyncio.create_task(_log_stderr(proc.stderr, env.get("PATH_INFO", "")))
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    head = b""
    try:
        while b"\r\n\r\n" not in head and b"\n\n" not in head:
            chunk = await proc.stdout.read(READ_SIZE)
            if not chunk:
                raise CGIError(f"git http-backend ended without headers: {head[:200]!r}")
            head += chunk
            if len(head) > MAX_HEADER:
                raise CGIError("git http-backend sent an endless header block")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        running.discard(proc)
        await stderr_task
        if on_exit is not None:
            await on_exit(-1)
        raise
    sep = b"\r\n\r\n" if b"\r\n\r\n" in head else b"\n\n"
    block, _, rest = head.partition(sep)
    status, headers = parse_headers(block)
    if rest:
        queue.put_nowait(rest)
    abandoned = asyncio.Event()

    async def pump() -> None:
        stdout = proc.stdout
        assert stdout is not None
        try:
            while chunk := await stdout.read(READ_SIZE):
                if not abandoned.is_set():
                    queue.put_nowait(chunk)
        finally:
            queue.put_nowait(None)
            code = await proc.wait()
            running.discard(proc)
            await stderr_task
            if on_exit is not None:
                await on_exit(code)

    task = asyncio.create_task(pump())
    holder = keep if keep is not None else set()
    holder.add(task)
    task.add_done_callback(holder.discard)

    async def body() -> AsyncIterator[bytes]:
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
        finally:
            abandoned.set()  # the pusher went away: keep draining, stop queueing

    return CGIResponse(status, headers, body())


async def _log_stderr(stream: asyncio.StreamReader, what: str) -> None:
    """http-backend's hints (a hook not executable, a service disabled) only go here."""
    while line := await stream.readline():
        log.info("http-backend %s: %s", what, line.decode(errors="replace").rstrip())

"""A container's logs from the engine, as ``kubectl logs`` shows them.

The engine's json-file driver stores one entry per line, cutting lines longer
than 16 KiB into several entries; its log API sends each entry as one frame.
We always ask for timestamps: the time at the head of each frame tells where
a line starts (a frame without a trailing newline is continued by the next
one), lets ``since`` be exact (the engine's filter is coarser) and is shown
in kubectl's fixed nine-digit form when ``timestamps`` is asked for.

``tail_lines`` counts lines, where the engine counts entries: the tail is
read first without following, asking the engine for a few more entries than
lines (and more again while long lines leave too few), and the lines kept
are the last N whole ones. Following then continues from the last entry
read (entries at or before its time are skipped), so nothing is shown twice
and nothing written in between is lost.

A container with a tty (``tty: true``) has no stdout and stderr to tell
apart, and the engine sends its log raw, without frame headers, where the
SDK would hand it over a character at a time as text; its log is read
here from the engine's answer, split into entries at each newline.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import docker

from orchestrator.kubelet.runtimes.base import LogOptions
from orchestrator.kubelet.runtimes.dockerspec import docker_time, fixed_stamp, utc_timestamp
from orchestrator.kubelet.runtimes.threadstream import ThreadStream

Line = tuple[bytes, bytes]  # (fixed-width time of the line's first entry, text with newline)
Call = Callable[..., Awaitable[Any]]
SKEW = 0.001  # seconds the follow request starts early; the overlap is skipped by time


class OwnStream:
    """An SDK stream on a client of its own, closed together from any thread.

    A stream cut short from another thread must not share a connection pool:
    the cut connection would go back to the pool while the reading thread
    still holds it, and the next request to take it would fail. So each
    stream opens its own client (no request: the API version is given) and
    closing the stream closes that client with it.
    """

    def __init__(self, client: docker.APIClient, stream: Any) -> None:
        self._client = client
        self._stream = stream

    def __iter__(self) -> Iterator[Any]:
        return iter(self._stream)

    def close(self) -> None:
        close_stream(self._stream)
        with contextlib.suppress(Exception):
            self._client.close()


def close_stream(stream: Any) -> None:
    """Cut an SDK stream short and close its HTTP response (else the socket lingers)."""
    with contextlib.suppress(Exception):  # already closed, or the engine went away
        stream.close()
    response = getattr(stream, "_response", None)
    if response is not None:
        with contextlib.suppress(Exception):
            response.close()


def own_client(api: docker.APIClient, url: str) -> docker.APIClient:
    """A client of its own to the engine at ``url``, speaking ``api``'s version."""
    return docker.APIClient(base_url=url, version=api.api_version, timeout=api.timeout)


class LineAssembler:
    """Whole lines from frames of ``<time> <text>``; the line takes its first frame's time."""

    def __init__(self, after: bytes = b"", since: datetime | None = None) -> None:
        self._after = after  # skip frames at or before this fixed-width time
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        self._since = since
        self._pending = b""
        self._stamp = b""

    def feed(self, frame: bytes) -> Line | None:
        raw, _, text = frame.partition(b" ")
        stamp = fixed_stamp(raw)
        if self._after and stamp <= self._after:
            return None
        if not self._pending:
            self._stamp = stamp
        self._pending += text
        if not self._pending.endswith(b"\n"):
            return None
        line, self._pending = self._pending, b""
        return None if self._early(self._stamp) else (self._stamp, line)

    def flush(self) -> Line | None:
        """What is left without a newline (a line still being written)."""
        line, self._pending = self._pending, b""
        return (self._stamp, line) if line and not self._early(self._stamp) else None

    def _early(self, stamp: bytes) -> bool:
        if self._since is None:
            return False
        at = docker_time(stamp.decode("ascii", "replace"))
        return at is not None and at < self._since


def assemble(frames: list[bytes], since: datetime | None = None) -> list[Line]:
    assembler = LineAssembler(since=since)
    lines = [line for frame in frames if (line := assembler.feed(frame))]
    if rest := assembler.flush():
        lines.append(rest)
    return lines


def render(line: Line, timestamps: bool) -> bytes:
    return line[0] + b" " + line[1] if timestamps else line[1]


class RawEntries:
    """The raw log of a tty container, one entry (``<time> <text>\\n``) per item."""

    def __init__(self, client: docker.APIClient, cid: str, params: dict[str, Any]) -> None:
        query = {"stdout": 1, "stderr": 1, "timestamps": 1, "tail": "all", **params}
        query["follow"] = int(bool(query.get("follow")))
        if not query.get("since"):
            query.pop("since", None)
        if query.get("tail") is None:
            query["tail"] = "all"
        url = client._url("/containers/{0}/logs", cid)
        self._response = client._get(url, params=query, stream=True)
        client._raise_for_status(self._response)

    def __iter__(self) -> Iterator[bytes]:
        rest = b""
        for chunk in self._response.raw.stream(65536, decode_content=False):
            *entries, rest = (rest + chunk).split(b"\n")
            for entry in entries:
                yield entry + b"\n"
        if rest:
            yield rest

    def close(self) -> None:
        self._response.close()


def _is_tty(api: docker.APIClient, cid: str) -> bool:
    return bool((api.inspect_container(cid).get("Config") or {}).get("Tty"))


def _logs(api: docker.APIClient, cid: str, **params: Any) -> Any:
    """The SDK's log stream, or the raw entries of a tty container."""
    if _is_tty(api, cid):
        return RawEntries(api, cid, params)
    return api.logs(cid, stream=True, timestamps=True, **params)


def _collect(api: docker.APIClient, cid: str, **params: Any) -> list[bytes]:
    # follow defaults to the value of stream in the SDK: a tail must not wait for more output
    stream = _logs(api, cid, follow=False, **params)
    try:
        return list(stream)
    finally:
        close_stream(stream)


async def read_logs(
    api: docker.APIClient, url: str, call: Call, cid: str, options: LogOptions
) -> AsyncGenerator[bytes, None]:
    """The lines of container ``cid``; ``call`` runs a blocking function in the runtime's pool,
    ``url`` is the engine's (a follow has a client of its own).

    ``limit_bytes`` cuts the output at that many bytes, mid-line if need be.
    """
    budget = options.limit_bytes
    async with contextlib.aclosing(_lines(api, url, call, cid, options)) as lines:
        async for line in lines:
            out = render(line, options.timestamps)
            if budget is not None:
                if len(out) >= budget:
                    if budget:
                        yield out[:budget]
                    return
                budget -= len(out)
            yield out


async def _lines(
    api: docker.APIClient, url: str, call: Call, cid: str, options: LogOptions
) -> AsyncGenerator[Line, None]:
    # The engine's own `since` starts a little early; LineAssembler filters exactly.
    since = utc_timestamp(options.since) - SKEW if options.since else None
    last = b""
    if options.tail_lines is not None:
        wanted = max(0, options.tail_lines)
        ask = wanted + 4
        while True:
            frames = await call(_collect, api, cid, tail=ask, since=since)
            lines = assemble(frames, options.since)
            if len(frames) < ask or len(lines) > wanted:
                break
            ask *= 4  # long lines took several entries each: read further back
        if frames:
            last = fixed_stamp(frames[-1].partition(b" ")[0])
        for line in lines[len(lines) - wanted :] if wanted else []:
            yield line
        if not options.follow:
            return
    if last:
        since = (docker_time(last.decode()) or datetime.now(UTC)).timestamp() - SKEW
    stream: ThreadStream[bytes] = ThreadStream(
        functools.partial(_open, own_client(api, url), cid, follow=options.follow, since=since),
        name="paas-docker-logs",
    )
    assembler = LineAssembler(after=last, since=options.since)
    async for frame in stream:
        if (whole := assembler.feed(frame)) is not None:
            yield whole
    if (rest := assembler.flush()) is not None:
        yield rest


def _open(client: docker.APIClient, cid: str, *, follow: bool, since: float | None) -> OwnStream:
    try:
        stream = _logs(client, cid, follow=follow, since=since)
    except BaseException:
        client.close()
        raise
    return OwnStream(client, stream)

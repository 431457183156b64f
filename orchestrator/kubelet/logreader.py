"""Reading a container's CRI log files the way ``kubectl logs`` shows them.

The supervisor writes ``container.log`` and rotates it by size into
``container.log.1`` (the newest rotated file), ``.2``, ... ; a reader goes
through the rotated files oldest first, then the current one. Entries tagged
``P`` are joined with what follows on the same stream, so one line of the app
is one line here, whatever its length.

Options as the API's log endpoint has them: ``since`` keeps lines stamped at
or after it, ``tail_lines`` keeps the last N of those, ``timestamps`` puts the
stamp as written before each line, ``limit_bytes`` cuts the output (mid-line,
as Kubernetes does). With ``follow`` the reader keeps going as the file grows
and follows a rotation (the path then names a new file), until ``running()``
says the container has ended and what it wrote is drained.

Reads are plain blocking reads of local files, small and bounded, done in
the event loop; following polls the file every ``poll_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from orchestrator.kubelet.logformat import Entry, parse_entry
from orchestrator.kubelet.runtimes.base import LogOptions


def log_files(path: Path) -> list[Path]:
    """The rotated files of ``path``, oldest first, then ``path`` itself if it exists."""
    rotated: list[tuple[int, Path]] = []
    for sibling in path.parent.glob(path.name + ".*"):
        suffix = sibling.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), sibling))
    files = [p for _, p in sorted(rotated, reverse=True)]
    if path.exists():
        files.append(path)
    return files


class LineAssembler:
    """Turns entries into output lines: joins partial entries, applies since/timestamps."""

    def __init__(self, options: LogOptions) -> None:
        self.options = options
        self.partial: dict[str, tuple[Entry, bytes]] = {}

    def feed(self, entry: Entry) -> bytes | None:
        first, text = self.partial.pop(entry.stream, (entry, b""))
        text += entry.text
        if entry.partial:
            self.partial[entry.stream] = (first, text)
            return None
        return self._line(first, text)

    def flush(self) -> list[bytes]:
        lines = [self._line(first, text) for first, text in self.partial.values()]
        self.partial.clear()
        return [line for line in lines if line is not None]

    def _line(self, first: Entry, text: bytes) -> bytes | None:
        if self.options.since is not None and first.at < self.options.since:
            return None
        if self.options.timestamps:
            return first.stamp.encode() + b" " + text + b"\n"
        return text + b"\n"


class LineSplitter:
    """Whole lines from chunks of a file being appended to (a half-written line waits)."""

    def __init__(self) -> None:
        self.rest = b""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        data = self.rest + chunk
        lines = data.split(b"\n")
        self.rest = lines.pop()
        yield from lines


def _entries(lines: Iterable[bytes]) -> Iterator[Entry]:
    for line in lines:
        entry = parse_entry(line)
        if entry is not None:
            yield entry


def _same_file(f: BinaryIO, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False


def _open(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


class LogCursor:
    """A position in a container's log: the backlog first, then what is appended (sync I/O)."""

    def __init__(self, path: Path, options: LogOptions) -> None:
        self.path = path
        self.assembler = LineAssembler(options)
        self.splitter = LineSplitter()
        self.current = _open(path)

    def _lines(self, chunk: bytes) -> Iterator[bytes]:
        for raw in self.splitter.feed(chunk):
            entry = parse_entry(raw)
            if entry is not None and (line := self.assembler.feed(entry)) is not None:
                yield line

    def backlog(self, tail_lines: int | None) -> list[bytes]:
        """Every line written so far (the last ``tail_lines`` of them)."""
        kept: deque[bytes] = deque(maxlen=tail_lines)
        for rotated in log_files(self.path):
            if rotated == self.path:
                continue
            if self.current is not None and _same_file(self.current, rotated):
                continue  # rotated after we opened it: read below as the current file
            for entry in _entries(rotated.read_bytes().split(b"\n")):
                if (line := self.assembler.feed(entry)) is not None:
                    kept.append(line)
        if self.current is not None:
            kept.extend(self._lines(self.current.read()))
        return list(kept)

    def more(self) -> list[bytes]:
        """New lines since the last call, following a rotation."""
        lines: list[bytes] = []
        while True:
            chunk = self.current.read() if self.current is not None else b""
            if chunk:
                lines.extend(self._lines(chunk))
                continue
            if self.path.exists() and (
                self.current is None or not _same_file(self.current, self.path)
            ):
                # rotated (or created): what we hold is complete; go on with the new file
                if self.current is not None:
                    self.current.close()
                self.current = _open(self.path)
                self.splitter = LineSplitter()
                continue
            return lines

    def flush(self) -> list[bytes]:
        return self.assembler.flush()

    def close(self) -> None:
        if self.current is not None:
            self.current.close()


async def read_log(
    path: Path,
    options: LogOptions,
    *,
    running: Callable[[], bool],
    poll_interval: float = 0.1,
) -> AsyncIterator[bytes]:
    """Yield the container's output, one line (newline included) per item."""
    budget = options.limit_bytes
    cursor = LogCursor(path, options)
    try:
        lines = [] if options.tail_lines == 0 else cursor.backlog(options.tail_lines)
        if options.tail_lines == 0:
            cursor.backlog(0)  # skip what is there
        if not options.follow:
            lines += cursor.flush()
        final = not options.follow
        while True:
            for line in lines:
                if budget is not None:
                    line = line[:budget]
                    budget -= len(line)
                yield line
                if budget is not None and budget <= 0:
                    return
            if final:
                return
            lines = cursor.more()
            if lines:
                continue
            if not running():
                # one more pass for the last writes (and a last rotation), then the rest
                lines = cursor.more() + cursor.flush()
                final = True
                continue
            await asyncio.sleep(poll_interval)
    finally:
        cursor.close()

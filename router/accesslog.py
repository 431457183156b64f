"""One access-log line per request, on logger ``router.access``, and a cheap way to write them.

``peer host "METHOD target HTTP/v" status bytes duration upstream``: the
bytes are the body sent to the client, the duration runs from the request's
headers to its last byte answered, ``upstream`` is the pod's ``ip:port`` or
``-`` when the router answered itself. A request whose client left before
its answer was complete is logged with status 499, as nginx does.

Logging a line the standard way (a record, the caller's frame looked up, a
timestamp formatted, a write and a flush) cost about a quarter of the
router's CPU per request (cProfile under wrk). ``BufferedLines`` is the
handler ``paas router`` puts on this logger: it formats the message with a
timestamp cached per second, keeps lines in memory and writes them in one
go every ``interval`` seconds or ``limit`` bytes (nginx's ``access_log ...
buffer= flush=``), so a line reaches the file up to a second late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TextIO

access_log = logging.getLogger("router.access")


def log_request(
    peer: str,
    host: str,
    method: str,
    target: bytes,
    version: str,
    status: int,
    sent: int,
    started: float,
    upstream: str,
) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    access_log.info(
        '%s %s "%s %s HTTP/%s" %d %d %.1fms %s',
        peer,
        host or "-",
        method,
        target.decode("latin-1"),
        version,
        status,
        sent,
        (time.monotonic() - started) * 1000,
        upstream,
    )


class BufferedLines(logging.Handler):
    """Lines ``<time> <component> <LEVEL> <message>``, written in batches."""

    def __init__(self, stream: TextIO, component: str, limit: int = 64 * 1024) -> None:
        super().__init__()
        self.stream = stream
        self.component = component
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self._second = -1
        self._stamp = ""

    def emit(self, record: logging.LogRecord) -> None:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        line = (
            f"{self._stamp},{int(record.msecs):03d} {self.component} {record.levelname} "
            f"{record.getMessage()}\n"
        )
        self.lines.append(line)
        self.size += len(line)
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.stream.write("".join(self.lines))
            self.stream.flush()
            self.lines.clear()
            self.size = 0

    async def flush_every(self, interval: float = 1.0) -> None:
        """Write what is buffered every ``interval`` seconds, until cancelled (then once more)."""
        try:
            while True:
                await asyncio.sleep(interval)
                self.flush()
        finally:
            self.flush()

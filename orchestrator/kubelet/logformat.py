"""Container log lines in CRI's file format, shared by the writers and the readers.

One entry per line: ``<time> <stream> <tag> <text>\\n`` where time is RFC 3339
in UTC with nanoseconds (``2026-11-22T07:00:00.123456789Z``), stream is
``stdout`` or ``stderr``, and tag is ``F`` for a full line or ``P`` for a
part of a longer line that the next entry of the same stream continues.
This is what the kubelet writes under /var/log/pods, so the same readers and
tools (tail, grep) work on ours.

This module is imported by the per-container supervisor, a separate small
process: it must stay free of imports beyond the standard library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_ENTRY = 16 * 1024  # longer lines are cut into P entries, as CRI does


@dataclass(frozen=True)
class Entry:
    at: datetime
    stream: str  # stdout | stderr
    partial: bool
    text: bytes  # without the trailing newline
    stamp: str  # the time as written, for `timestamps=true` output


def now_stamp(ns: int | None = None) -> str:
    """The current time as CRI writes it: nanoseconds, UTC, ``Z``."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def format_entry(stream: str, text: bytes, *, partial: bool = False, stamp: str = "") -> bytes:
    """One entry, newline included; ``text`` must not contain a newline."""
    tag = b"P" if partial else b"F"
    return b"%s %s %s %s\n" % ((stamp or now_stamp()).encode(), stream.encode(), tag, text)


def split_output(stream: str, data: bytes, pending: bytes) -> tuple[list[bytes], bytes]:
    """Turn a chunk of a stream's output into entries; returns (entries, rest to keep).

    ``pending`` is what an earlier chunk left without a newline. A rest longer
    than MAX_ENTRY is flushed as a partial entry so memory stays bounded.
    """
    buf = pending + data
    out: list[bytes] = []
    stamp = now_stamp()
    while True:
        nl = buf.find(b"\n")
        if nl < 0:
            break
        line, buf = buf[:nl], buf[nl + 1 :]
        while len(line) > MAX_ENTRY:
            out.append(format_entry(stream, line[:MAX_ENTRY], partial=True, stamp=stamp))
            line = line[MAX_ENTRY:]
        out.append(format_entry(stream, line, stamp=stamp))
    while len(buf) > MAX_ENTRY:
        out.append(format_entry(stream, buf[:MAX_ENTRY], partial=True, stamp=stamp))
        buf = buf[MAX_ENTRY:]
    return out, buf


def parse_stamp(stamp: str) -> datetime:
    """Parse a CRI time; sub-microsecond digits are dropped (datetime keeps microseconds)."""
    main, _, frac = stamp.rstrip("Z").partition(".")
    base = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    micros = int((frac + "000000")[:6]) if frac else 0
    return base.replace(microsecond=micros)


def parse_entry(line: bytes) -> Entry | None:
    """One entry from one line of a log file (newline optional); None if malformed."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"F", b"P"):
        return None
    stamp = parts[0].decode("ascii", "replace")
    try:
        at = parse_stamp(stamp)
    except ValueError:
        return None
    text = parts[3] if len(parts) == 4 else b""
    return Entry(at, parts[1].decode(), parts[2] == b"P", text, stamp)

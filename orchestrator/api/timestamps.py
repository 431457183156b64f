"""Timestamps as the API writes them (RFC 3339 in UTC with a ``Z``, to the second), and
Go durations as Kubernetes reads them (``timeout=30s``, ``window: 1m0.5s``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # MICRO SIGN
    "μs": 1e-6,  # GREEK SMALL LETTER MU
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def rfc3339(when: datetime) -> str:
    """``2026-11-22T06:30:00Z`` (an aware time is converted to UTC first)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an RFC 3339 string; None for anything else or nothing."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1s``, ``500ms``, ``1m30s``, ``-2h``, ``0``); else ValueError."""
    body = text[1:] if text[:1] in ("-", "+") else text
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(text)
    seconds, at = 0.0, 0
    while at < len(body):
        match = _PART.match(body, at)
        if match is None:
            raise ValueError(text)
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        at = match.end()
    return -seconds if text.startswith("-") else seconds

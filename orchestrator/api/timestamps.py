"""Timestamps as the API writes them: RFC 3339 in UTC with a ``Z``, to the second."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


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

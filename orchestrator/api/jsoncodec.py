"""JSON to and from bytes, the one codec the API server and its clients share.

Every object crosses JSON several times per write (request body, stored
value, response, one watch event per change, and again in each client), so
the codec is orjson, several times faster than the standard library. What
it does not do, the standard library still does, so nothing that used to be
accepted or produced is lost:

- ``loads`` hands input orjson rejects to ``json.loads``: the same errors
  and messages as before for bad input, and the standard library's leniency
  (NaN, lone surrogates, UTF-16 bytes) where it had some. An integer beyond
  64 bits decodes as a float, as Kubernetes' own unstructured decoding does.
- ``dumps`` writes compact JSON with non-ASCII characters as UTF-8 rather
  than ``\\u`` escapes (both are the same JSON to every client); values
  orjson refuses (integers beyond 64 bits, keys that are not strings, as a
  YAML body may hold, or lone surrogates) go through ``json.dumps`` exactly
  as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """A JSON value; raises ``json.JSONDecodeError`` (or ``UnicodeDecodeError``) if invalid."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (UTF-8)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()

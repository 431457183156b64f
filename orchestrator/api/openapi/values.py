"""JSON values seen the way Go's decoder and ``fmt`` see them.

Kubernetes decodes a custom resource into ``map[string]interface{}`` with
integral literals as ``int64`` and the rest as ``float64``; its validators
then switch on those Go types. Python's ``json`` gives ``int``/``float``
too, but ``bool`` is an ``int`` and ``1 == 1.0 == True``, so every type
question here goes through ``json_type`` and every equality through
``json_equal``. ``go_repr`` renders a value as Go's ``%#v`` does, which is
how ``Duplicate value`` errors print objects (``map[string]interface
{}{"name":"a"}``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from orchestrator.api.validation_causes import go_float

MAX_SAFE_FLOAT = float(1 << 53)


def json_type(value: Any) -> str:
    """The OpenAPI type name of a decoded JSON value (``integer`` for ``int``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return ""


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_json_integer(value: float) -> bool:
    """go-openapi's ``IsFloat64AJSONInteger``: integral within 2^53, allowing rounding noise."""
    if math.isnan(value) or math.isinf(value) or abs(value) > MAX_SAFE_FLOAT:
        return False
    if value.is_integer():
        return True
    nearest = float(round(value))
    if value == 0 or nearest == 0:
        return False
    return abs(value - nearest) / (abs(value) + abs(nearest)) < 1e-9


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality that keeps booleans apart from numbers (Go would)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if is_number(a):
        return is_number(b) and a == b
    return type(a) is type(b) and a == b


def go_repr(value: Any) -> str:
    """Go's ``%#v`` of a decoded JSON value (map keys sorted, as ``fmt`` sorts them)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{_go_quote(k)}:{_go_inner(value[k])}" for k in sorted(value))
        return f"map[string]interface {{}}{{{inner}}}"
    if isinstance(value, list):
        return f"[]interface {{}}{{{', '.join(_go_inner(v) for v in value)}}}"
    return _go_inner(value)


def _go_inner(value: Any) -> str:
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return go_repr(value)


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """A key for comparing compound values, as Go's ``json.Marshal`` (sorted keys)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))

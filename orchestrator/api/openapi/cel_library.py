"""Kubernetes' CEL function libraries, as functions the CEL library can call.

Kubernetes extends cel-go's environment (apiserver ``pkg/cel/library``,
``environment/base.go``). ``common-expression-language`` ships the CEL core
(macros, ``size``, ``matches``, ``startsWith``, conversions, timestamps) and,
in ``cel.stdlib``, Python versions of cel-go's string, math, set and encoder
extensions, which we register as they are. This module adds what Kubernetes
has on top:

- lists: ``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``,
  ``lastIndexOf`` (the last two also on strings, as ``ext.Strings``);
- regex: ``find``, ``findAll`` (Python's ``re``; Kubernetes uses RE2, whose
  syntax is nearly a subset);
- quantity: ``quantity``, ``isQuantity`` and the methods ``isLessThan``,
  ``isGreaterThan``, ``compareTo``, ``add``, ``sub``, ``sign``,
  ``isInteger``, ``asInteger``, ``asApproximateFloat``. A quantity travels as
  the map ``{"@quantity": "<exact decimal>"}`` because the library converts
  only JSON-like values; two equal quantities (``1Gi``, ``1024Mi``) are then
  equal maps, as ``==`` on quantities is in Kubernetes.

Not provided: ``url``, ``ip``, ``cidr``, ``format`` and the authorizer
library (rules using them fail to compile with "undeclared reference").
Each call is a Python callback, which is what makes a custom function cost
about a microsecond; a function is registered on a context only when one of
the node's rules calls it (``functions_for``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import cel
from cel import stdlib

from orchestrator.api.quantity import QuantityError, parse_quantity

_QUANTITY_KEY = "@quantity"

# Functions the library itself provides (core CEL, macros, optional values, time accessors).
BUILTINS = frozenset(
    {
        "has", "all", "exists", "exists_one", "map", "filter", "size", "matches", "contains",
        "startsWith", "endsWith", "int", "uint", "double", "string", "bytes", "bool",
        "timestamp", "duration", "dyn", "type", "hasValue", "value", "orValue", "or",
        "optional.of", "optional.none", "optional.ofNonZeroValue", "getFullYear", "getMonth",
        "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes",
        "getSeconds", "getMilliseconds",
    }
)  # fmt: skip


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


def _sum(items: list[Any]) -> Any:
    return sum(items[1:], items[0]) if items else 0


def _min(items: list[Any]) -> Any:
    if not items:
        raise ValueError("min called on empty list")
    return min(items)


def _max(items: list[Any]) -> Any:
    if not items:
        raise ValueError("max called on empty list")
    return max(items)


def _index_of(target: Any, item: Any, *rest: Any) -> int:
    if isinstance(target, list):
        return next((i for i, x in enumerate(target) if x == item), -1)
    return int(stdlib.index_of(target, item, *rest))


def _last_index_of(target: Any, item: Any, *rest: Any) -> int:
    if isinstance(target, list):
        return next((i for i in range(len(target) - 1, -1, -1) if target[i] == item), -1)
    return int(stdlib.last_index_of(target, item, *rest))


def _find(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    return match.group() if match else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    found = [m.group() for m in re.finditer(pattern, text)]
    return found if limit < 0 else found[:limit]


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, dict) and _QUANTITY_KEY in value:
        return Decimal(value[_QUANTITY_KEY])
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError("no such overload")


def _quantity_of(number: Decimal) -> dict[str, str]:
    text = format(number.normalize(), "f")
    return {_QUANTITY_KEY: text}


def _quantity(text: str) -> dict[str, str]:
    try:
        return _quantity_of(parse_quantity(text))
    except QuantityError as exc:
        raise ValueError(f"quantities must match the regular expression: {exc}") from exc


def _is_quantity(text: str) -> bool:
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True


def _compare(a: Any, b: Any) -> int:
    x, y = _as_decimal(a), _as_decimal(b)
    return (x > y) - (x < y)


def _as_integer(q: Any) -> int:
    value = _as_decimal(q)
    if value != value.to_integral_value() or abs(value) >= 2**63:
        raise ValueError("cannot convert value to integer")
    return int(value)


KUBERNETES_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "find": _find,
    "findAll": _find_all,
    "quantity": _quantity,
    "isQuantity": _is_quantity,
    "isLessThan": lambda a, b: _compare(a, b) < 0,
    "isGreaterThan": lambda a, b: _compare(a, b) > 0,
    "compareTo": _compare,
    "add": lambda a, b: _quantity_of(_as_decimal(a) + _as_decimal(b)),
    "sub": lambda a, b: _quantity_of(_as_decimal(a) - _as_decimal(b)),
    "sign": lambda q: _compare(q, 0),
    "isInteger": lambda q: _as_decimal(q) == _as_decimal(q).to_integral_value(),
    "asInteger": _as_integer,
    "asApproximateFloat": lambda q: float(_as_decimal(q)),
}

_STDLIB_EXTENSIONS = ("strings", "math", "sets", "encoders")


def _stdlib_functions() -> dict[str, Callable[..., Any]]:
    context = cel.Context()
    stdlib.add_stdlib_to_context(context, list(_STDLIB_EXTENSIONS))
    return dict(context.functions)


FUNCTIONS: dict[str, Callable[..., Any]] = {**_stdlib_functions(), **KUBERNETES_FUNCTIONS}
KNOWN_CALLS = BUILTINS | FUNCTIONS.keys()


def functions_for(names: Iterable[str]) -> dict[str, Callable[..., Any]]:
    """The registered functions among ``names`` (the calls of a node's rules)."""
    return {name: FUNCTIONS[name] for name in names if name in FUNCTIONS}

"""``x-kubernetes-list-type: set`` and ``map``: no two items may be the same.

A ``set`` list holds no two equal items; a ``map`` list holds objects no two
of which agree on all ``x-kubernetes-list-map-keys`` (a missing key counts
as a value of its own). Each repeat after the first is reported once, at
its index, as ``Duplicate value`` showing the item (or, for maps, its keys)
the way Go prints it. Equality is Go's: ``1`` and ``1.0`` differ (an
integer and a float), ``true`` is not ``1``, objects compare as their JSON.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.openapi.values import canonical_json, go_repr
from orchestrator.api.validation_causes import DUPLICATE, Cause, invalid, render_value


def check_list(value: list[Any], schema: dict[str, Any], path: str) -> list[Cause]:
    """The duplicates of one list at ``path`` (none unless it is a set or map list)."""
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        return [_duplicate(f"{path}[{i}]", value[i]) for i in repeats(value)]
    if list_type == "map":
        return _map_duplicates(value, schema.get("x-kubernetes-list-map-keys") or [], path)
    return []


def repeats(values: list[Any]) -> list[int]:
    """Indices of the second occurrence of each repeated value."""
    seen: dict[Any, int] = {}
    found: list[int] = []
    for i, item in enumerate(values):
        key = _identity(item)
        times = seen.get(key, 0)
        seen[key] = times + 1
        if times == 1:
            found.append(i)
    return found


def _identity(item: Any) -> Any:
    if isinstance(item, dict | list):
        return ("json", canonical_json(item))
    return (type(item).__name__, item)


def _map_duplicates(value: list[Any], keys: list[str], path: str) -> list[Cause]:
    for i, item in enumerate(value):
        if item is not None and not isinstance(item, dict):
            return [
                invalid(f"{path}[{i}]", item, "must be an object for an array of list-type map")
            ]
    if len(value) <= 1:
        return []
    if len(keys) == 1:
        field = keys[0]
        missing = object()
        values = [item.get(field, missing) if isinstance(item, dict) else missing for item in value]
        marked = [("missing",) if v is missing else v for v in values]
        return [
            _duplicate(f"{path}[{i}]", {} if values[i] is missing else {field: values[i]})
            for i in repeats(marked)
        ]
    tuples = [
        {k: item[k] for k in keys if k in item} if isinstance(item, dict) else {} for item in value
    ]
    return [_duplicate(f"{path}[{i}]", tuples[i]) for i in repeats(tuples)]


def _duplicate(field: str, value: Any) -> Cause:
    shown = go_repr(value) if isinstance(value, dict | list) else render_value(value)
    return Cause(field, DUPLICATE, f"Duplicate value: {shown}")

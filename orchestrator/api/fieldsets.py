"""Field sets of objects: what an applied configuration sets, and what a write changed.

* ``fields_of(config, shape)`` is the set an applier owns after applying
  ``config``: its leaves (scalars, atomic lists and objects, empty objects),
  and each item of a keyed or set list as a member of its own (``"."``).
* ``compare(old, new, shape)`` is what a write changed, as three sets:
  added, modified (a leaf with another value) and removed. An Update
  manager comes to own the added and modified paths; every other manager
  loses them, and everyone loses the removed ones.

Kubernetes computes ``compare`` on Go structs, where a field that is not a
pointer is always present (``spec``, a pod template's ``metadata``, a pod's
``containers`` list), so a newly added object or list is owned itself (a
``"."`` under ``f:labels`` of a creating manager) unless it is one of those.
Plain JSON has no such distinction, so ``ALWAYS_PRESENT`` names them.

Both walks skip values that are equal (one C-level ``==`` per subtree), so a
write costs in proportion to what it changed, not to the object's size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from orchestrator.api.fieldpath import SELF, FieldSet, field, index_element, key_element
from orchestrator.api.fieldpath import value_element as _value_element
from orchestrator.api.fieldshape import ListType, Shape

# Non-pointer struct fields and always-serialized lists of the Go types: never "added" themselves.
ALWAYS_PRESENT = frozenset(
    {"metadata", "spec", "status", "template", "strategy", "updateStrategy", "jobTemplate"}
    | {"containers"}
)


@dataclass(frozen=True)
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    @property
    def same(self) -> bool:
        return not (self.added or self.modified or self.removed)


def item_element(item: Any, lt: ListType, index: int) -> str:
    """The path element of one item of a keyed or set list."""
    if lt.kind == "map" and isinstance(item, dict):
        keys = []
        for k in lt.keys:
            value = item[k] if k in item else lt.defaults.get(k, _MISSING)
            if value is not _MISSING:
                keys.append((k, type(value).__name__, value))  # 1, 1.0 and True differ in JSON
        try:
            return _key_element(tuple(keys))
        except TypeError:  # a key field holding an object: not cacheable
            return key_element({k: v for k, _, v in keys})
    if lt.kind == "set":
        try:
            return _set_element(type(item).__name__, item)
        except TypeError:
            return _value_element(item)
    return index_element(index)


# The same few names, ports and values recur on every write: their JSON is made once.
@functools.lru_cache(maxsize=8192)
def _key_element(keys: tuple[tuple[str, str, Any], ...]) -> str:
    return key_element({k: v for k, _, v in keys})


@functools.lru_cache(maxsize=8192)
def _set_element(_type: str, value: Any) -> str:
    return _value_element(value)


def fields_of(config: dict[str, Any], shape: Shape) -> FieldSet:
    """The set an applier of ``config`` owns (``config`` as sent, minus server fields)."""
    return _fields(config, shape)


def _fields(value: Any, shape: Shape) -> FieldSet:
    if isinstance(value, dict):
        if not value or shape.atomic():
            return {}
        return {
            "f:" + k: _fields(v, shape.child(k)) if isinstance(v, dict | list) else {}
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list) and value:
        lt = shape.list_type()
        if lt.kind == "atomic":
            return {}
        item_shape = shape.item()
        out: FieldSet = {}
        for i, item in enumerate(value):
            sub = _fields(item, item_shape) if lt.kind == "map" else {}
            out[item_element(item, lt, i)] = {**sub, SELF: {}} if sub else {}
        return out
    return {}


def whole(value: Any, shape: Shape, mark: bool, *, removed: bool = False) -> FieldSet:
    """Every path of ``value``, as a write that added (or ``removed``) it changed them.

    ``mark``: the node of ``value`` is a member itself. Below it, added objects
    and lists are members unless ``ALWAYS_PRESENT``; removed ones always are.
    """
    if isinstance(value, dict):
        if not value or shape.atomic():
            return {}
        out = {}
        for k, v in value.items():
            if isinstance(v, dict | list):  # scalars are leaves: no shape needed
                mark_child = removed or k not in ALWAYS_PRESENT
                out["f:" + k] = whole(v, shape.child(k), mark_child, removed=removed)
            elif v is not None:
                out["f:" + k] = {}
    elif isinstance(value, list) and value:
        lt = shape.list_type()
        if lt.kind == "atomic":
            return {}
        item_shape = shape.item()
        out = {}
        for i, item in enumerate(value):
            sub = whole(item, item_shape, True, removed=removed) if lt.kind == "map" else {}
            out[item_element(item, lt, i)] = {**sub, SELF: {}} if sub else {}
    else:
        return {}
    if mark and out:
        out[SELF] = {}
    return out


def compare(old: dict[str, Any], new: dict[str, Any], shape: Shape) -> Comparison:
    """What changed from ``old`` to ``new`` (both objects' roots)."""
    added: FieldSet = {}
    modified: FieldSet = {}
    removed: FieldSet = {}
    if old != new:
        _compare_maps(old, new, shape, added, modified, removed)
    return Comparison(added, modified, removed)


def _compare_maps(
    old: dict[str, Any],
    new: dict[str, Any],
    shape: Shape,
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
) -> None:
    for k, nv in new.items():
        ov = old.get(k)
        if ov is None:
            if nv is not None:
                added[field(k)] = whole(nv, shape.child(k), k not in ALWAYS_PRESENT)
        elif nv is None:
            removed[field(k)] = whole(ov, shape.child(k), True, removed=True)
        elif ov != nv:
            _compare_values(ov, nv, shape.child(k), field(k), added, modified, removed)
    for k, ov in old.items():
        if ov is not None and k not in new:
            removed[field(k)] = whole(ov, shape.child(k), True, removed=True)


def _compare_values(
    ov: Any,
    nv: Any,
    shape: Shape,
    element: str,
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
) -> None:
    a: FieldSet = {}
    m: FieldSet = {}
    r: FieldSet = {}
    if isinstance(ov, dict) and isinstance(nv, dict) and not shape.atomic():
        _compare_maps(ov, nv, shape, a, m, r)
    elif isinstance(ov, list) and isinstance(nv, list):
        lt = shape.list_type()
        if lt.kind == "atomic":
            modified[element] = {}
            return
        _compare_lists(ov, nv, lt, shape.item(), a, m, r)
    else:
        modified[element] = {}
        return
    if a:
        added[element] = a
    if m:
        modified[element] = m
    if r:
        removed[element] = r


def _compare_lists(
    ov: list[Any],
    nv: list[Any],
    lt: ListType,
    item_shape: Shape,
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
) -> None:
    old_items = {item_element(item, lt, i): item for i, item in enumerate(ov)}
    new_items = {item_element(item, lt, i): item for i, item in enumerate(nv)}
    for el, item in new_items.items():
        before = old_items.get(el, _MISSING)
        if before is _MISSING:
            sub = whole(item, item_shape, True) if lt.kind == "map" else {}
            added[el] = {**sub, SELF: {}} if sub else {}
        elif before != item:
            _compare_values(before, item, item_shape, el, added, modified, removed)
    for el, item in old_items.items():
        if el not in new_items:
            sub = whole(item, item_shape, True, removed=True) if lt.kind == "map" else {}
            removed[el] = {**sub, SELF: {}} if sub else {}


_MISSING = object()

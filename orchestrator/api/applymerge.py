"""The two edits server-side apply makes to an object: merge a configuration, remove fields.

``merge(live, config, shape)`` lays an applied configuration over the live
object by the schema's semantics (structured-merge-diff's merge): objects
merge key by key unless atomic; keyed lists merge item by item (a live item
keeps its place, a new one is appended in the configuration's order); set
lists are the union; atomic lists and scalars take the configuration's value.
A ``null`` in the configuration sets nothing.

``remove(obj, fields, shape)`` deletes the member paths of a field set from
an object: a field's key, or a list's item. Apply uses it for the fields a
manager applied before, applies no more, and nobody else owns.

Both return new values and leave their inputs alone (results may share
subtrees with ``live``; ``config`` is copied).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.copying import copy_json
from orchestrator.api.fieldpath import FieldSet, is_member
from orchestrator.api.fieldsets import item_element
from orchestrator.api.fieldshape import Shape


def merge(live: Any, config: Any, shape: Shape) -> Any:
    """``config`` applied over ``live``."""
    if isinstance(config, dict):
        if not isinstance(live, dict) or shape.atomic():
            return _without_nulls(config)
        out = dict(live)
        for k, v in config.items():
            if v is None:
                continue
            out[k] = merge(live[k], v, shape.child(k)) if k in live else _without_nulls(v)
        return out
    if isinstance(config, list) and isinstance(live, list):
        lt = shape.list_type()
        if lt.kind == "atomic":
            return copy_json(config)
        item_shape = shape.item()
        applied = {item_element(item, lt, i): item for i, item in enumerate(config)}
        out_items = []
        for i, item in enumerate(live):
            element = item_element(item, lt, i)
            if element in applied:
                mine = applied.pop(element)
                out_items.append(merge(item, mine, item_shape) if lt.kind == "map" else item)
            else:
                out_items.append(item)
        out_items.extend(_without_nulls(item) for item in applied.values())
        return out_items
    return copy_json(config)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def remove(obj: Any, fields: FieldSet, shape: Shape) -> Any:
    """``obj`` without the member paths of ``fields``."""
    if not fields:
        return obj
    if isinstance(obj, dict):
        out = dict(obj)
        for element, sub in fields.items():
            kind, _, name = element.partition(":")
            if kind != "f" or name not in out:
                continue
            if is_member(sub):
                del out[name]
            else:
                out[name] = remove(out[name], sub, shape.child(name))
        return out
    if isinstance(obj, list):
        lt = shape.list_type()
        item_shape = shape.item()
        kept = []
        for i, item in enumerate(obj):
            sub = fields.get(item_element(item, lt, i))
            if sub is None:
                kept.append(item)
            elif not is_member(sub):
                kept.append(remove(item, sub, item_shape))
        return kept
    return obj

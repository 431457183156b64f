"""Pruning and defaulting in one walk, for reads.

Every read of a custom resource prunes it and fills defaults by the version
asked for (§4), so that a default added to the schema later shows on objects
stored before it. Done as two walks (``prune`` then ``apply_defaults``),
that visits every object and list twice; ``read_form`` visits each once and
leaves the object exactly as the two walks would:

- at each object, the keys are first pruned (undeclared ones removed,
  integral floats under ``integer`` made ints, embedded ``metadata``
  coerced), each kept child is read-formed in turn, then the node's own
  defaulting happens: ``null``s replaced by their default or removed, and
  missing defaults appended, each walked by defaulting alone (defaults are
  pruned when the CRD is written, and the two walks never prune them);
- a child is never defaulted twice: defaulting is idempotent, so the second
  visit the two-walk form makes is skipped, not changed.

Nothing is reported (a read has no unknown-field warnings): the write path
keeps the reporting ``prune``.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.copying import copy_json
from orchestrator.api.openapi.defaulting import default_value
from orchestrator.api.openapi.objectmeta import coerce_object_meta
from orchestrator.api.openapi.plan import Node
from orchestrator.api.openapi.pruning import META_FIELDS, clear_unknown, integral


def read_form(obj: dict[str, Any], node: Node) -> None:
    """``prune(obj, node)`` then ``apply_defaults(obj, node)``, in one walk, in place."""
    if isinstance(obj.get("metadata"), dict):
        obj["metadata"] = coerce_object_meta(obj["metadata"], "metadata", [])
    _object(obj, node, True, node.preserve, True)


def _value(value: Any, node: Node, preserve: bool, root: bool = False) -> None:
    preserve = preserve or node.preserve
    if isinstance(value, dict):
        _object(value, node, node.embedded, preserve, root)
    elif isinstance(value, list):
        _list(value, node, preserve)


def _list(value: list[Any], node: Node, preserve: bool) -> None:
    items = node.items
    if items is None:
        for item in value:
            clear_unknown(item, preserve)
        return
    integer = items.integer
    fill = not items.nullable and node.items_default
    for i, item in enumerate(value):
        if integer and isinstance(item, float):
            value[i] = integral(item)
        elif item is None:
            if fill:
                value[i] = item = copy_json(items.schema["default"])
                default_value(item, items)
        elif isinstance(item, dict | list):
            _value(item, items, preserve)


def _object(value: dict[str, Any], node: Node, embedded: bool, preserve: bool, root: bool) -> None:
    properties = node.properties
    extra_present = node.extra_present
    extra = node.extra
    removed: list[str] = []
    for key, item in value.items():
        child = properties.get(key)
        if embedded and key in META_FIELDS:
            if not root:
                if key == "metadata" and isinstance(item, dict):
                    value[key] = item = coerce_object_meta(item, "metadata", [])
                elif key != "metadata" and not isinstance(item, str):
                    removed.append(key)
                    continue
            if child is None:
                child = extra
            if child is not None:
                _default_child(value, key, item, child, removed)
            continue
        if child is None:
            if not extra_present:
                if not preserve:
                    removed.append(key)
                continue
            if extra is None:
                clear_unknown(item, False)
                continue
            child = extra
        if item is None:
            _default_child(value, key, item, child, removed)
        elif isinstance(item, float):
            if child.integer:
                value[key] = integral(item)
        elif isinstance(item, dict | list):
            _value(item, child, False, root and not key)  # prune's root test is an empty path
    for key in removed:
        del value[key]
    for key, default in node.defaults:
        if key not in value:
            value[key] = item = copy_json(default)
            default_value(item, properties[key])


def _default_child(
    value: dict[str, Any], key: str, item: Any, child: Node, removed: list[str]
) -> None:
    """Defaulting alone for one child (a null, or embedded metadata prune does not enter)."""
    if item is None:
        if child.nullable:
            return
        if child.default is None:
            removed.append(key)
            return
        value[key] = item = copy_json(child.default)
    default_value(item, child)

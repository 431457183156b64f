"""Pruning: a custom resource keeps only the fields its schema declares.

Kubernetes prunes on every decode of a request, every conversion and every
storage read (§4). The walk follows the schema: a key under ``properties``
is kept and walked with its schema; any key is kept under
``additionalProperties`` (a schema, ``true`` or ``false``, all three keep the
key and walk its value); everything else is removed. Below
``x-kubernetes-preserve-unknown-fields: true`` nothing unknown is removed,
but declared children are still pruned by their schemas. A value reached
without a schema (``additionalProperties: true``) loses all of its keys, as
in Kubernetes.

At the root, and at every embedded resource, ``apiVersion``, ``kind`` and
``metadata`` are never pruned; ``metadata`` goes through ``ObjectMeta``
(``objectmeta.coerce_object_meta``) instead, and a non-string
``apiVersion``/``kind`` of an embedded resource is dropped.

While walking, a float with an integral value under ``type: integer``
becomes an ``int`` (Go would answer ``3`` for ``3.0``; §11.8).

The walk follows the schema's plan (``plan.Node``), compiled once per CRD
version, so a node's keywords are attributes rather than lookups.

``prune`` returns the paths it removed for the ``unknown field "x"``
warning and the Strict 400: those of the root ``metadata`` first, then the
pruned ones sorted (Kubernetes sorts them), then those found in embedded
``metadata``, sorted.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.openapi.objectmeta import coerce_object_meta
from orchestrator.api.openapi.plan import Node, plan_of

META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
INT64_LIMIT = float(1 << 63)


def prune(obj: dict[str, Any], schema: dict[str, Any] | Node, *, is_root: bool = True) -> list[str]:
    """Remove undeclared fields from ``obj`` in place; return the removed paths."""
    node = schema if isinstance(schema, Node) else plan_of(schema)
    meta_unknown: list[str] = []
    if is_root and isinstance(obj.get("metadata"), dict):
        obj["metadata"] = coerce_object_meta(obj["metadata"], "metadata", meta_unknown)
    pruned: list[str] = []
    embedded_unknown: list[str] = []
    _prune(obj, node, is_root, "", pruned, embedded_unknown)
    return meta_unknown + sorted(pruned) + sorted(embedded_unknown)


def prune_value(value: Any, schema: dict[str, Any] | None, *, embedded: bool = False) -> None:
    """Prune any JSON value in place by ``schema`` (no metadata coercion; for CRD defaults)."""
    _prune(value, None if schema is None else plan_of(schema), embedded, "", None, None)


def _prune(
    value: Any,
    node: Node | None,
    embedded: bool,
    path: str,
    removed: list[str] | None,
    meta_unknown: list[str] | None,
    preserve: bool = False,
) -> None:
    if node is None:
        if preserve:
            return
        if removed is None:
            clear_unknown(value, False)
        elif isinstance(value, dict):
            removed.extend(_join(path, key) for key in value)
            value.clear()
        elif isinstance(value, list):
            for i, item in enumerate(value):
                _prune(item, None, False, f"{path}[{i}]", removed, meta_unknown)
        return
    preserve = preserve or node.preserve
    if isinstance(value, dict):
        embedded = embedded or node.embedded
        _prune_object(value, node, embedded, preserve, path, removed, meta_unknown)
    elif isinstance(value, list):
        items = node.items
        integer = items is not None and items.integer
        for i, item in enumerate(value):
            if integer and isinstance(item, float):
                value[i] = integral(item)
            elif isinstance(item, dict | list):
                # Kubernetes keeps preserving through the items of a preserved list
                _prune(item, items, False, f"{path}[{i}]", removed, meta_unknown, preserve)


def _prune_object(
    value: dict[str, Any],
    node: Node,
    embedded: bool,
    preserve: bool,
    path: str,
    removed: list[str] | None,
    meta_unknown: list[str] | None,
) -> None:
    properties = node.properties
    extra_present = node.extra_present
    doomed: list[str] = []
    dropped: list[str] = []
    for key, item in value.items():
        if embedded and key in META_FIELDS:
            if not path or meta_unknown is None:
                continue
            if key == "metadata" and isinstance(item, dict):
                value[key] = coerce_object_meta(item, f"{path}.metadata", meta_unknown)
            elif key != "metadata" and not isinstance(item, str):
                dropped.append(key)
            continue
        child = properties.get(key)
        if child is None:
            if not extra_present:
                if not preserve:
                    doomed.append(key)
                continue
            child = node.extra
        if isinstance(item, float) and child is not None and child.integer:
            value[key] = integral(item)
        elif isinstance(item, dict | list):
            _prune(item, child, False, _join(path, key), removed, meta_unknown)
    for key in dropped:
        del value[key]
    for key in doomed:
        del value[key]
        if removed is not None and (key not in META_FIELDS or path):
            removed.append(_join(path, key))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def clear_unknown(value: Any, preserve: bool) -> None:
    """Prune a value no schema describes: every key of every object goes, unless preserved."""
    if preserve:
        return
    if isinstance(value, dict):
        value.clear()
    elif isinstance(value, list):
        for item in value:
            clear_unknown(item, False)


def integral(number: float) -> int | float:
    return int(number) if number.is_integer() and abs(number) < INT64_LIMIT else number

"""Defaulting: ``default`` values filled in where a schema gives them (§4).

One walk does what Kubernetes does in two (``PruneNonNullableNullsWithoutDefaults``
then ``Default``):

- a ``null`` under a non-nullable schema becomes that schema's default, or
  the key is removed when there is none (a ``nullable: true`` ``null`` stays);
  ``null`` list items without a default stay (Kubernetes removes only keys);
- a missing property with a ``default`` gets a deep copy of it, and only
  where its parent object exists: ``spec.replicas`` defaults when ``spec``
  is there, so a chain of ``default: {}`` parents cascades, each defaulted
  value being walked in turn;
- ``additionalProperties`` values and array items are walked the same way.

Defaults are applied on request decode (request version), after each
mutating webhook and on every storage read (storage version); the schema
was checked at CRD write time (``structural.check_structural``) so the
defaults are valid and already pruned.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.copying import copy_json


def apply_defaults(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    """Fill defaults into ``obj`` in place and drop non-nullable ``null``s."""
    _default(obj, schema)


def _default(value: Any, schema: dict[str, Any] | None) -> None:
    if schema is None:
        return
    if isinstance(value, dict):
        _default_object(value, schema)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return
        for i, item in enumerate(value):
            if item is None and not items.get("nullable") and "default" in items:
                value[i] = item = copy_json(items["default"])
            if isinstance(item, dict | list):
                _default(item, items)


def _default_object(value: dict[str, Any], schema: dict[str, Any]) -> None:
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    extra_schema = extra if isinstance(extra, dict) else None
    if properties:
        for key, child in properties.items():
            if "default" in child and child["default"] is not None and key not in value:
                value[key] = copy_json(child["default"])
    doomed: list[str] = []
    for key, item in value.items():
        child = properties.get(key) if properties else None
        if child is None:
            child = extra_schema
            if child is None:
                continue
        if item is None:
            if child.get("nullable"):
                continue
            if child.get("default") is None:
                doomed.append(key)
                continue
            value[key] = item = copy_json(child["default"])
        if isinstance(item, dict | list):
            _default(item, child)
    for key in doomed:
        del value[key]

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

The walk reads the schema's plan (``plan.Node``): a node lists the few
properties that have a default, so an object with dozens of declared
properties is not asked about each of them.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.copying import copy_json
from orchestrator.api.openapi.plan import Node, plan_of


def apply_defaults(obj: dict[str, Any], schema: dict[str, Any] | Node) -> None:
    """Fill defaults into ``obj`` in place and drop non-nullable ``null``s."""
    default_value(obj, schema if isinstance(schema, Node) else plan_of(schema))


def default_value(value: Any, node: Node) -> None:
    """Defaulting of any JSON value by its node (a default just filled in, a list item)."""
    if isinstance(value, dict):
        _default_object(value, node)
    elif isinstance(value, list):
        items = node.items
        if items is None:
            return
        fill = not items.nullable and node.items_default
        for i, item in enumerate(value):
            if item is None and fill:
                value[i] = item = copy_json(items.schema["default"])
            if isinstance(item, dict | list):
                default_value(item, items)


def _default_object(value: dict[str, Any], node: Node) -> None:
    properties = node.properties
    extra = node.extra
    for key, default in node.defaults:
        if key not in value:
            value[key] = copy_json(default)
    doomed: list[str] = []
    for key, item in value.items():
        child = properties.get(key)
        if child is None:
            child = extra
            if child is None:
                continue
        if item is None:
            if child.nullable:
                continue
            if child.default is None:
                doomed.append(key)
                continue
            value[key] = item = copy_json(child.default)
        if isinstance(item, dict | list):
            default_value(item, child)
    for key in doomed:
        del value[key]

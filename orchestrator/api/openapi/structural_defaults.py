"""CRD ``default`` values must be valid and survive pruning (``ValidateDefaults``).

Checked only once the schema is structural. For each ``default`` reachable
through ``properties`` and ``items`` (Kubernetes does not look under
``additionalProperties``): first, pruning a copy by the node's schema must
change nothing (``must not have unknown fields``); then the default must
meet the node's schema, embedded-resource headers included, with paths
under ``<node>.default``. Defaults inside an embedded resource's metadata
are checked against the schema only (Kubernetes also runs them through
ObjectMeta, which this does not).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.copying import copy_json
from orchestrator.api.openapi.embedded import embedded_causes
from orchestrator.api.openapi.pruning import prune_value
from orchestrator.api.openapi.validating import schema_causes
from orchestrator.api.openapi.values import go_repr, json_equal
from orchestrator.api.validation_causes import INVALID, Cause, render_value

META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def default_causes(schema: dict[str, Any], path: str) -> list[Cause]:
    """Every bad ``default`` in a structural ``schema`` whose root is at ``path``."""
    causes: list[Cause] = []
    _walk(schema, path, True, False, causes)
    return causes


def _walk(
    s: dict[str, Any], path: str, embedded: bool, inside_meta: bool, causes: list[Cause]
) -> None:
    embedded = embedded or s.get("x-kubernetes-embedded-resource") is True
    if embedded:
        inside_meta = False
    if s.get("default") is not None:
        causes.extend(_check(s, embedded, inside_meta, f"{path}.default"))
    items = s.get("items")
    if isinstance(items, dict):
        _walk(items, f"{path}.items", False, inside_meta, causes)
    properties = s.get("properties")
    if isinstance(properties, dict):
        for key, child in properties.items():
            if isinstance(child, dict):
                meta = inside_meta or (embedded and key in META_FIELDS)
                _walk(child, f"{path}.properties[{key}]", False, meta, causes)


def _check(s: dict[str, Any], embedded: bool, inside_meta: bool, path: str) -> list[Cause]:
    default = s["default"]
    causes: list[Cause] = []
    if not inside_meta:
        pruned = copy_json(default)
        prune_value(pruned, s, embedded=embedded)
        if not json_equal(pruned, default):
            causes.append(invalid_value(path, default, "must not have unknown fields"))
    node = {**s, "x-kubernetes-embedded-resource": True} if embedded else s
    meta_causes = embedded_causes(default, node, path)
    return causes + (meta_causes or schema_causes(default, s, path))


def invalid_value(field: str, value: Any, detail: str) -> Cause:
    """``invalid`` with objects and lists shown as Go's ``%#v`` shows them."""
    shown = go_repr(value) if isinstance(value, dict | list) else render_value(value)
    return Cause(field, INVALID, f"Invalid value: {shown}: {detail}")

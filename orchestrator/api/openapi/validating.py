"""Validating a custom resource against its version's schema.

``validate`` returns what Kubernetes' custom resource strategy finds,
in its order:

1. the OpenAPI schema errors (``openapi_validator``; paths as kube-openapi
   writes them, ``spec.labels.key`` for a map value);
2. embedded resources (``embedded``; ``field.Path`` paths, ``spec.map[key]``);
3. duplicates in ``set``/``map`` lists (``listtypes``).

Kubernetes walks the object once per kind of check; here one walk over the
schema's plan (``plan``) collects all three into their own lists, each in
the order its own walk would have found them (pre-order, keys in the
object's order). The walk is kube-openapi's validator without its match
counting, which only ``anyOf``/``oneOf`` need: a node with junctors (or with
both ``properties`` and an ``additionalProperties`` schema, whose two walks
would visit keys in different orders) hands its whole subtree to the
general validator and structure walk. A scalar whose node has nothing to
check beyond its type costs one set lookup (``Node.trivial``).

Like Kubernetes, the whole object is validated: root ``apiVersion``,
``kind`` and ``metadata`` meet whatever the schema declares for them
(structural schemas may only restrict ``metadata.name`` and
``generateName``), while ObjectMeta's own rules are left to the API server.
Nothing is mutated. ``blocks_cel`` says whether CEL rules must be skipped
because of these errors, as Kubernetes skips them (§3 step 10).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.openapi.embedded import check_resource
from orchestrator.api.openapi.formats import matches_format
from orchestrator.api.openapi.listtypes import check_list
from orchestrator.api.openapi.openapi_errors import REQUIRED as REQUIRED_CODE
from orchestrator.api.openapi.openapi_errors import TYPE, Violation, to_causes
from orchestrator.api.openapi.openapi_validator import (
    array_limits,
    check_enum,
    check_number,
    check_object_size,
    check_string,
    check_type,
    forbidden_property,
    type_message,
    walk,
)
from orchestrator.api.openapi.plan import Node, plan_of
from orchestrator.api.validation_causes import (
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE_INVALID,
    Cause,
)

BLOCKING_REASONS = frozenset({NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID})
CEL_SKIPPED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


def validate(obj: Any, schema: dict[str, Any] | Node, field: str = "") -> list[Cause]:
    """Every violation of ``schema`` (or its plan) by ``obj``, paths prefixed by ``field``."""
    node = schema if isinstance(schema, Node) else plan_of(schema)
    walker = _Walk()
    walker.check(node, obj, "", field or None)
    found = to_causes(walker.found, field) if walker.found else []
    return found + walker.embedded + walker.lists


def schema_causes(value: Any, schema: dict[str, Any], field: str = "") -> list[Cause]:
    """Only the OpenAPI keyword violations (what CRD default values are checked with)."""
    found: list[Violation] = []
    walk(value, schema, "", found)
    return to_causes(found, field) if found else []


class _Walk:
    """One validation: the three lists of findings."""

    __slots__ = ("embedded", "found", "lists")

    def __init__(self) -> None:
        self.found: list[Violation] = []
        self.embedded: list[Cause] = []
        self.lists: list[Cause] = []

    def check(self, node: Node, value: Any, name: str, path: str | None) -> None:
        """Check ``value`` at validator path ``name``; ``path`` is the field path, None if equal."""
        kind = type(value)
        if kind is dict and node.plain_object:
            self._object(node, value, name, path)
            return
        if kind is list and node.plain_array:
            self._list(node, value, name, path)
            return
        out = self.found
        schema = node.schema
        if node.general:
            walk(value, schema, name, out)
            _structure(value, schema, name if path is None else path, self.embedded, self.lists)
            return
        if value is None:
            check_type(value, node.types, node.fmt, schema, name, out)
            if node.enum:
                check_enum(value, node.enum, name, out)
            return
        if (node.types or node.fmt) and type(value) not in node.type_ok:
            check_type(value, node.types, node.fmt, schema, name, out)
        if isinstance(value, str):
            if node.string_checks:
                check_string(value, schema, name, out)
            if node.fmt and not matches_format(node.fmt, value):
                out.append(Violation(TYPE, name, value, type_message(name, node.fmt, value)))
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int | float):
            if node.number_checks:
                check_number(value, schema, name, out)
        elif isinstance(value, list):
            self._list(node, value, name, path)
        if node.enum:
            check_enum(value, node.enum, name, out)
        if isinstance(value, dict):
            self._object(node, value, name, path)

    def _list(self, node: Node, value: list[Any], name: str, path: str | None) -> None:
        if node.list_type:
            where = name if path is None else path
            self.lists.extend(check_list(value, node.schema, where))
        items = node.items
        if items is not None:
            trivial = items.trivial
            for i, item in enumerate(value):
                if type(item) not in trivial:
                    self.check(
                        items, item, f"{name}[{i}]", None if path is None else f"{path}[{i}]"
                    )
        if node.array_checks:
            array_limits(value, node.schema, name, self.found)

    def _object(self, node: Node, value: dict[str, Any], name: str, path: str | None) -> None:
        if node.embedded_check:
            self.embedded.extend(check_resource(value, name if path is None else path))
        out = self.found
        if node.object_checks:
            check_object_size(value, node.schema, name, out)
        properties = node.properties
        if node.extra_false:
            for key in value:
                if key not in properties:
                    out.append(forbidden_property(name, key))
        elif node.extra is not None:
            extra = node.extra
            base = name if path is None else path
            for key, item in value.items():
                if key not in properties and type(item) not in extra.trivial:
                    self.check(extra, item, f"{name}.{key}", f"{base}[{key}]")
        if properties:
            for key, item in value.items():
                child = properties.get(key)
                if child is not None and type(item) not in child.trivial:
                    child_name = f"{name}.{key}" if name else key
                    if path is None:
                        self.check(child, item, child_name, None)
                    else:
                        self.check(child, item, child_name, f"{path}.{key}")
        for key in node.required:
            if key not in value:
                message = f"{name}.{key} in body is required"
                out.append(Violation(REQUIRED_CODE, f"{name}.{key}", None, message))


def _structure(
    value: Any, schema: dict[str, Any], path: str, embedded: list[Cause], lists: list[Cause]
) -> None:
    # the embedded and list-type checks of a subtree the general validator walks
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            embedded.extend(check_resource(value, path))
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if not isinstance(item, dict | list):
                continue
            child = properties.get(key) if properties else None
            if child is not None:
                _structure(item, child, f"{path}.{key}" if path else key, embedded, lists)
            elif isinstance(extra, dict):
                _structure(item, extra, f"{path}[{key}]", embedded, lists)
    elif isinstance(value, list):
        if "x-kubernetes-list-type" in schema:
            lists.extend(check_list(value, schema, path))
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                if isinstance(item, dict | list):
                    _structure(item, items, f"{path}[{i}]", embedded, lists)


def blocks_cel(causes: list[Cause]) -> bool:
    """Whether CEL rules are skipped: a NotSupported/Required/TooLong/TooMany/TypeInvalid cause."""
    return any(cause.reason in BLOCKING_REASONS for cause in causes)

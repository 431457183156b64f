"""A schema compiled once into per-node plans, for the walks run on every request.

Pruning, defaulting and validating each walk an object beside its schema.
Reading the schema's keywords at every node of every request (``dict.get``
after ``dict.get``, ``"default" in child`` for each declared property) costs
more than the walks' own work, so a CRD version's schema is compiled once
(``CustomStrategy`` holds the result, and the ``StrategyCache`` builds a
strategy once per CRD generation) into a tree of ``Node``s that say in
attributes what each walk asks:

- pruning: the node's children as nodes, whether it preserves unknown
  fields or holds an embedded resource, whether a float becomes an int;
- defaulting: the properties that have a default (usually a handful out of
  dozens), nullability, the node's own default;
- validating: whether a value of a given Python type passes this node with
  nothing to check beyond its type (``trivial``: a plain ``type: string``
  costs one set lookup), whether the node needs the general validator
  (junctors count matches across branches, see ``openapi_validator``), and
  which keyword groups (string, number, array, object) it has at all.

A node keeps its raw schema: the validator's error paths (``_check_string``
and friends) read the keywords from it, so every message stays the one the
general validator writes. Nodes are built for dict schemas only; a subschema
that is not a dict (a broken schema the structural checks reject anyway)
counts as absent.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.openapi.formats import validated_format

JUNCTORS = ("anyOf", "oneOf", "allOf", "not")
_STRING_KEYWORDS = ("maxLength", "minLength", "pattern")
_NUMBER_KEYWORDS = ("multipleOf", "minimum", "maximum")
_GO_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean"}
INT_OR_STRING = ("integer", "string")


class Node:
    """What the walks need to know about one schema node (see the module docstring)."""

    __slots__ = (
        "array_checks",
        "default",
        "defaults",
        "embedded",
        "embedded_check",
        "enum",
        "extra",
        "extra_false",
        "extra_present",
        "fmt",
        "general",
        "integer",
        "items",
        "items_default",
        "list_type",
        "nullable",
        "number_checks",
        "object_checks",
        "plain_array",
        "plain_object",
        "preserve",
        "properties",
        "required",
        "schema",
        "string_checks",
        "trivial",
        "type_ok",
        "types",
    )

    schema: dict[str, Any]
    properties: dict[str, Node]  # declared properties (dict schemas only)
    extra_present: bool  # additionalProperties is set (true, false or a schema)
    extra_false: bool  # additionalProperties: false
    extra: Node | None  # additionalProperties as a schema
    items: Node | None
    preserve: bool  # x-kubernetes-preserve-unknown-fields: true
    embedded: bool  # x-kubernetes-embedded-resource: true
    embedded_check: bool  # x-kubernetes-embedded-resource truthy: validated as an object header
    integer: bool  # type integer or int-or-string: an integral float becomes an int
    nullable: bool
    default: Any  # None when there is none (a null default counts as none)
    items_default: bool  # the items schema has a "default" key (even null)
    defaults: tuple[tuple[str, Any], ...]  # properties with a non-null default
    types: tuple[str, ...]
    fmt: str  # the format Kubernetes validates, "" when none
    general: bool  # validated by the general validator (junctors, or properties + schema extra)
    trivial: frozenset[type]  # scalar types that pass with nothing to check
    type_ok: frozenset[type]  # types that pass the type check (format aside)
    string_checks: bool
    number_checks: bool
    array_checks: bool
    enum: Any
    object_checks: bool  # minProperties/maxProperties
    required: tuple[Any, ...]
    list_type: bool  # x-kubernetes-list-type is set (set/map duplicates)
    plain_object: bool  # a dict needs only the object checks here (type fits, no enum)
    plain_array: bool  # a list needs only the array checks here


def plan_of(schema: dict[str, Any]) -> Node:
    """The plan of ``schema`` and all its subschemas."""
    return _build(schema, {})


def _build(schema: dict[str, Any], memo: dict[int, Node]) -> Node:
    known = memo.get(id(schema))
    if known is not None:
        return known
    node = Node()
    memo[id(schema)] = node
    node.schema = schema
    properties = schema.get("properties") or {}
    node.properties = {
        key: _build(child, memo) for key, child in properties.items() if isinstance(child, dict)
    }
    extra = schema.get("additionalProperties")
    node.extra_present = extra is not None
    node.extra_false = extra is False
    node.extra = _build(extra, memo) if isinstance(extra, dict) else None
    items = schema.get("items")
    node.items = _build(items, memo) if isinstance(items, dict) else None
    node.preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    node.embedded = schema.get("x-kubernetes-embedded-resource") is True
    node.embedded_check = bool(schema.get("x-kubernetes-embedded-resource"))
    node.integer = (
        schema.get("type") == "integer" or schema.get("x-kubernetes-int-or-string") is True
    )
    node.nullable = bool(schema.get("nullable"))
    node.default = schema.get("default")
    node.items_default = isinstance(items, dict) and "default" in items
    node.defaults = tuple(
        (key, child["default"])
        for key, child in properties.items()
        if isinstance(child, dict) and child.get("default") is not None
    )
    _plan_validation(node, schema)
    return node


def _plan_validation(node: Node, schema: dict[str, Any]) -> None:
    node.types = _types(schema)
    node.fmt = validated_format(schema) if "format" in schema else ""
    node.general = any(key in schema for key in JUNCTORS) or (
        bool(schema.get("properties")) and node.extra is not None
    )
    node.string_checks = any(key in schema for key in _STRING_KEYWORDS)
    node.number_checks = any(schema.get(key) is not None for key in _NUMBER_KEYWORDS)
    node.array_checks = (
        schema.get("minItems") is not None
        or schema.get("maxItems") is not None
        or bool(schema.get("uniqueItems"))
    )
    node.object_checks = (
        schema.get("minProperties") is not None or schema.get("maxProperties") is not None
    )
    node.enum = schema.get("enum")
    node.required = tuple(schema.get("required") or ())
    node.list_type = "x-kubernetes-list-type" in schema
    ok = (
        {t for t, name in _GO_TYPE_NAMES.items() if name in node.types}
        | ({list} if "array" in node.types else set())
        | ({dict} if "object" in node.types else set())
    )
    node.type_ok = frozenset(ok) if node.types and not node.fmt else frozenset()
    node.trivial = frozenset(_trivial(node, schema))
    plain = not node.general and not node.enum
    node.plain_object = plain and (dict in node.type_ok or not (node.types or node.fmt))
    node.plain_array = plain and (list in node.type_ok or not (node.types or node.fmt))


def _trivial(node: Node, schema: dict[str, Any]) -> set[type]:
    """Scalar types whose values pass this node whatever they are."""
    if node.general or node.fmt or node.enum:
        return set()
    out = set()
    for kind, name in _GO_TYPE_NAMES.items():
        if node.types and name not in node.types:
            continue
        if kind is str and node.string_checks:
            continue
        if kind in (int, float) and node.number_checks:
            continue
        out.add(kind)
    return out


def _types(schema: dict[str, Any]) -> tuple[str, ...]:
    if schema.get("x-kubernetes-int-or-string"):
        return INT_OR_STRING
    declared = schema.get("type")
    if not declared or not isinstance(declared, str):
        return ()
    return (declared,)

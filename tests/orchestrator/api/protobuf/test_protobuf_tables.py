"""The protobuf tables agree with the schema tables the API server validates with.

Every field ``orchestrator.api.schema_kinds`` knows for a built-in kind must
have a protobuf field of the same name at the same place (else a kubectl
1.32+ body could never carry it), and a scalar there must have a matching
wire kind.
"""

from __future__ import annotations

from orchestrator.api.protobuf.descriptors import Field, Message, message_for
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.schema_kinds import KINDS
from orchestrator.api.schema_types import ListOf, MapOf, Struct

SCALAR_KINDS = {
    "string": {"string", "bytes"},
    "integer": {"int32", "int64"},
    "boolean": {"bool"},
    "number": {"double", "int32", "int64"},
}


def _fields(msg: Message) -> dict[str, Field]:
    """A message's fields by JSON name, those of inlined structs included."""
    out: dict[str, Field] = {}
    for f in msg.fields:
        if f.inline:
            out.update(_fields(f.message))  # type: ignore[arg-type]
        else:
            out[f.name] = f
    return out


CHECKED: list[str] = []


def _mismatches(node: object, f: Field | None, msg: Message | None, path: str) -> list[str]:
    CHECKED.append(path)
    if isinstance(node, Struct):
        if msg is None or msg.shaped:
            return [f"{path}: a struct in the schema, {msg and msg.name} in protobuf"]
        known = _fields(msg)
        out = []
        for name, child in node.fields.items():
            if path == "" and name in ("apiVersion", "kind"):
                continue  # in the envelope
            field = known.get(name)
            if field is None:
                out.append(f"{path}.{name}: no protobuf field")
                continue
            out += _mismatches(child, field, field.message, f"{path}.{name}")
        return out
    if isinstance(node, ListOf | MapOf):
        inner = node.item if isinstance(node, ListOf) else node.value
        if msg is not None and msg.list_of:
            return []
        if isinstance(node, ListOf) and f is not None and not f.repeated:
            return [f"{path}: a list in the schema, not repeated in protobuf"]
        if isinstance(node, MapOf) and f is not None and f.kind != "map":
            return [f"{path}: a map in the schema, not a map in protobuf"]
        if isinstance(inner, str):
            return _scalar(inner, f, msg, path)
        return _mismatches(inner, f, msg, path + "[]")
    return _scalar(str(node), f, msg, path)


def _scalar(kind: str, f: Field | None, msg: Message | None, path: str) -> list[str]:
    if f is None or kind not in SCALAR_KINDS:
        return []  # OBJECT, quantities, int-or-string, times: shapes, checked by round trips
    wire_kind = f.value_kind if f.kind == "map" else f.kind
    if wire_kind == "message":
        return []
    if wire_kind not in SCALAR_KINDS[kind]:
        return [f"{path}: {kind} in the schema, {wire_kind} in protobuf"]
    return []


def test_every_schema_field_of_a_builtin_kind_has_its_protobuf_field() -> None:
    problems = []
    for rt in BUILTIN_TYPES:
        schema = KINDS.get(rt.kind)
        if schema is None or schema.group != rt.group:
            continue
        msg = message_for(rt.api_version, rt.kind)
        problems += [f"{rt.kind}{p}" for p in _mismatches(schema.root, None, msg, "")]
    assert problems == []
    assert len(CHECKED) > 500  # the walk reached into specs, containers, volumes

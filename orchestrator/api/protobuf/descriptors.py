"""The field tables compiled into what the codec walks, and the kinds they serve.

``load_messages`` reads every ``tables/*.txt`` once and resolves each field's
type to a ``Message`` (or a scalar kind), so the decoder and encoder never look
a name up while walking bytes. ``KINDS`` maps a wire ``(apiVersion, kind)`` to
its message; a kind not there has no protobuf form (custom resources never
do, as in Kubernetes).

A reference to a message no table declares is an error at load time: the
tables are checked whole when the module is imported, not when a client
first sends the one field that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from orchestrator.api.protobuf.notation import SCALARS, FieldSpec, MessageSpec, parse_table

# Wire types (the low three bits of a field's key).
VARINT, FIXED64, LENGTH = 0, 1, 2

WIRE_OF = {"string": LENGTH, "bytes": LENGTH, "double": FIXED64}  # else varint; messages LENGTH


@dataclass(slots=True, eq=False)
class Field:
    number: int
    name: str
    kind: str  # "string" "bytes" "int32" "int64" "bool" "double" "message" "map"
    wire: int
    key: bytes  # the encoded key (number << 3 | wire) this field is written with
    message: Message | None = None  # for "message", and for a "map" whose value is one
    value_kind: str = ""  # for a "map": the value's kind ("string", "bytes", "message", ...)
    repeated: bool = False
    pointer: bool = False
    always: bool = False
    inline: bool = False


@dataclass(slots=True, eq=False)
class Message:
    name: str
    fields: list[Field] = field(default_factory=list)  # ascending numbers: Go's write order
    by_number: dict[int, Field] = field(default_factory=dict)
    by_tag: dict[int, Field] = field(default_factory=dict)  # number << 3 | wire type
    list_of: bool = False  # a named list: JSON shows field 1 as the bare list
    shaped: bool = False  # shown in JSON by a conversion in shapes.py

    def __repr__(self) -> str:
        return f"Message({self.name})"


def varint(value: int) -> bytes:
    """A non-negative integer as a protobuf base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_key(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def _compile(spec: FieldSpec, messages: dict[str, Message], where: str) -> Field:
    def resolve(name: str) -> Message:
        try:
            return messages[name]
        except KeyError:
            raise LookupError(f"{where}: no table declares message {name}") from None

    if spec.map_key:
        if spec.map_key != "string":
            raise LookupError(f"{where}: map keys other than string are not used by Kubernetes")
        value_kind = spec.type if spec.type in SCALARS else "message"
        message = None if spec.type in SCALARS else resolve(spec.type)
        return Field(
            spec.number,
            spec.name,
            "map",
            LENGTH,
            encode_key(spec.number, LENGTH),
            message=message,
            value_kind=value_kind,
        )
    kind = spec.type if spec.type in SCALARS else "message"
    wire = WIRE_OF.get(kind, VARINT) if kind != "message" else LENGTH
    return Field(
        spec.number,
        spec.name,
        kind,
        wire,
        encode_key(spec.number, wire),
        message=None if kind != "message" else resolve(spec.type),
        repeated=spec.repeated,
        pointer=spec.pointer,
        always=spec.always,
        inline=spec.inline,
    )


def build(specs: list[MessageSpec], shaped: frozenset[str]) -> dict[str, Message]:
    """Messages by qualified name, with every reference resolved."""
    messages = {s.name: Message(s.name, list_of=bool(s.list_of)) for s in specs}
    for spec in specs:
        message = messages[spec.name]
        message.shaped = spec.name in shaped
        compiled = [_compile(f, messages, f"{spec.name}.{f.name or f.number}") for f in spec.fields]
        message.fields = sorted(compiled, key=lambda f: f.number)
        message.by_number = {f.number: f for f in compiled}
        message.by_tag = {f.number << 3 | f.wire: f for f in compiled}
    return messages


def read_tables() -> list[MessageSpec]:
    specs: list[MessageSpec] = []
    tables = resources.files(__package__).joinpath("tables")
    for entry in sorted(tables.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".txt"):
            specs.extend(parse_table(entry.name.removesuffix(".txt"), entry.read_text("utf-8")))
    return specs


@cache
def load_messages() -> dict[str, Message]:
    from orchestrator.api.protobuf.shapes import SHAPES

    return build(read_tables(), frozenset(SHAPES))


# Wire apiVersion -> proto package. Status and DeleteOptions travel as "v1" but live in meta.
PACKAGES = {
    "v1": "core.v1",
    "apps/v1": "apps.v1",
    "batch/v1": "batch.v1",
    "batch/v1beta1": "batch.v1",  # the CronJob alias we serve: the same fields on the wire
    "coordination.k8s.io/v1": "coordination.v1",
    "authentication.k8s.io/v1": "authentication.v1",
    "authentication.k8s.io/v1beta1": "authentication.v1",  # SelfSubjectReview: same fields
    "authentication.k8s.io/v1alpha1": "authentication.v1",
    "authorization.k8s.io/v1": "authorization.v1",
    "rbac.authorization.k8s.io/v1": "rbac.v1",
    "networking.k8s.io/v1": "networking.v1",
    "admissionregistration.k8s.io/v1": "admissionregistration.v1",
    "apiextensions.k8s.io/v1": "apiextensions.v1",
    "autoscaling/v1": "autoscaling.v1",
    "autoscaling/v2": "autoscaling.v2",
    "policy/v1": "policy.v1",
    "meta.k8s.io/v1": "meta.v1",
}
_META_KINDS = frozenset({"Status", "DeleteOptions", "ListMeta"})


def message_for(api_version: str, kind: str) -> Message | None:
    """The message of a top-level object, or None when the kind has no protobuf form here."""
    package = PACKAGES.get(api_version)
    if package is None:
        return None
    if kind in _META_KINDS:
        package = "meta.v1"
    message = load_messages().get(f"{package}.{kind}")
    if message is None or (kind not in _META_KINDS and 1 not in message.by_number):
        return None
    if kind not in _META_KINDS and message.by_number[1].name != "metadata":
        return None  # a part of objects (Time, PodSpec), never sent on its own
    return message

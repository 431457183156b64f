"""Our notation for Kubernetes' protobuf messages, and its parser.

The tables in ``tables/<package>.txt`` (one per proto package: ``core.v1``,
``apps.v1``, ``meta.v1``, ...) hold the facts of the wire format: for each
message, each field's number, JSON name and type. A message is a line with
its name, followed by one indented line per field::

    ConfigMap
      1 metadata meta.v1.ObjectMeta
      2 data {string:string}
      4 immutable *bool
    ExtraValue = [string]

A field line is ``<number> <json name> <flags><type>``:

- types: ``string bytes int32 int64 bool double``, a message of the same
  package (``ObjectMeta``) or of another (``meta.v1.Time``), ``[T]`` for a
  repeated field, ``{K:V}`` for a map;
- flag ``*``: a pointer in Go. Its zero value (``0``, ``""``, ``false``,
  ``{}``) is meaningful, so it is kept when decoded. Without ``*`` a zero
  value on the wire means "unset" (Go writes every non-pointer field), and is
  dropped;
- flag ``!``: a scalar that Go's JSON always writes (no ``omitempty``), so a
  zero is kept, as Kubernetes would show it in JSON;
- flag ``^`` with name ``-``: an embedded struct inlined into its parent in
  JSON (``Volume``'s ``VolumeSource``, ``Probe``'s ``ProbeHandler``).

``Name = [T]`` declares a named list (Go ``type ExtraValue []string``), a
message with one repeated field 1 that JSON shows as the bare list.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALARS = frozenset({"string", "bytes", "int32", "int64", "bool", "double"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field as written in a table; ``type`` and ``key``/``value`` are qualified names."""

    number: int
    name: str  # the JSON name; "" for an inlined struct
    type: str  # a scalar, or a qualified message name; for a map, the value's type
    repeated: bool = False
    map_key: str = ""  # non-empty: a map<map_key, type>
    pointer: bool = False
    always: bool = False
    inline: bool = False


@dataclass(frozen=True, slots=True)
class MessageSpec:
    name: str  # qualified: "core.v1.ConfigMap"
    fields: tuple[FieldSpec, ...]
    list_of: str = ""  # a named list: the element type


class NotationError(ValueError):
    """A table line that does not parse: says the file's package and the line."""


def _qualify(package: str, name: str) -> str:
    if name in SCALARS or "." in name:
        return name
    return f"{package}.{name}"


def _field(package: str, line: str) -> FieldSpec:
    number, name, spec = line.split()
    flags = ""
    while spec[0] in "*!^":
        flags += spec[0]
        spec = spec[1:]
    repeated, key = False, ""
    if spec.startswith("[") and spec.endswith("]"):
        repeated, spec = True, spec[1:-1]
    elif spec.startswith("{") and spec.endswith("}"):
        key, spec = spec[1:-1].split(":")
    return FieldSpec(
        number=int(number),
        name="" if name == "-" else name,
        type=_qualify(package, spec),
        repeated=repeated,
        map_key=key,
        pointer="*" in flags,
        always="!" in flags,
        inline="^" in flags,
    )


def parse_table(package: str, text: str) -> list[MessageSpec]:
    """The messages a table declares, in its order."""
    messages: list[MessageSpec] = []
    name, fields = "", list[FieldSpec]()

    def close() -> None:
        if name:
            messages.append(MessageSpec(f"{package}.{name}", tuple(fields)))

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        try:
            if line.startswith(" "):
                if not name:
                    raise ValueError("a field before any message")
                fields.append(_field(package, line))
            elif " = " in line:
                close()
                name, fields = "", []
                alias, element = line.split(" = ")
                inner = _qualify(package, element.strip()[1:-1])
                messages.append(
                    MessageSpec(
                        f"{package}.{alias}",
                        (FieldSpec(1, "items", inner, repeated=True),),
                        list_of=inner,
                    )
                )
            else:
                close()
                name, fields = line.strip(), []
        except ValueError as exc:
            raise NotationError(f"{package} line {lineno}: {raw.strip()!r}: {exc}") from exc
    close()
    return messages

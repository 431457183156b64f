"""What a CEL rule sees of an object: the schema's CEL type and the values.

Kubernetes gives a rule a typed view of the object, not the raw JSON
(apiserver ``pkg/cel/common/schemas.go``, apiextensions ``schema/cel/values.go``):

- an object's declared properties under their escaped names (``foo-bar`` is
  ``foo__dash__bar``; names that cannot be escaped, and properties whose
  schema has no CEL type, such as an array without ``items``, are left out);
  fields the schema does not declare (kept by
  ``x-kubernetes-preserve-unknown-fields``) are invisible;
- at a resource's root, and in an ``x-kubernetes-embedded-resource``, only
  ``apiVersion``, ``kind`` and ``metadata.name``/``generateName`` of the
  object's own metadata;
- ``number`` as double, ``integer`` as int, strings of format ``date-time``/
  ``date`` as timestamps, ``duration`` as durations, ``byte`` as bytes;
  ``x-kubernetes-int-or-string`` as whatever it holds.

``CelType`` is that view, built once per schema node at compile time;
``to_cel`` applies it to a value. ``fields`` limits the top level to the
fields the node's rules read (see ``cel_source.RuleShape.self_fields``), so
a rule on ``spec.replicas`` does not pay for converting ``spec.containers``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while",
    }
)  # fmt: skip
_ESCAPABLE = re.compile(r"[A-Za-z_.\-/][A-Za-z0-9_.\-/]*")
_EXPAND = re.compile(r"__|[-./]")
_EXPANSIONS = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


def escape(name: str) -> str | None:
    """A property name as a CEL identifier (Kubernetes' ``cel.Escape``), or None."""
    if not name or name[0].isdigit() or not _ESCAPABLE.fullmatch(name):
        return None
    if name in _RESERVED:
        return f"__{name}__"
    return _EXPAND.sub(lambda m: _EXPANSIONS[m.group()], name)


@dataclass(frozen=True)
class CelType:
    """The CEL view of one schema node; ``kind`` is the CEL type's name."""

    kind: str  # object, map, list, int, double, string, bool, timestamp, duration, bytes, dyn
    # object: (json name, CEL name, type) per visible property
    fields: tuple[tuple[str, str, CelType], ...] = ()
    elem: CelType | None = None  # list items, map values
    by_cel_name: Mapping[str, CelType] = field(default_factory=dict, compare=False)


def cel_type(schema: Mapping[str, Any], resource_root: bool = False) -> CelType | None:
    """The CEL type of a structural schema node, None when CEL cannot see it."""
    if schema.get("x-kubernetes-int-or-string"):
        return CelType("dyn")
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return None
        elem = cel_type(items, bool(items.get("x-kubernetes-embedded-resource")))
        return None if elem is None else CelType("list", elem=elem)
    if kind == "object" or (resource_root and kind is None):
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            elem = cel_type(additional, bool(additional.get("x-kubernetes-embedded-resource")))
            return None if elem is None else CelType("map", elem=elem)
        properties = dict(schema.get("properties") or {})
        if resource_root:
            properties.update(_RESOURCE_META)
        fields = []
        for name in sorted(properties):
            prop = properties[name]
            escaped = escape(name)
            prop_type = cel_type(prop, bool(prop.get("x-kubernetes-embedded-resource")))
            if escaped is not None and prop_type is not None:
                fields.append((name, escaped, prop_type))
        return CelType("object", tuple(fields), by_cel_name={f[1]: f[2] for f in fields})
    if kind == "string":
        return CelType(_STRING_FORMATS.get(schema.get("format", ""), "string"))
    return {"boolean": _BOOL, "number": _DOUBLE, "integer": _INT}.get(kind or "")


_STRING = {"type": "string"}
_RESOURCE_META: dict[str, Mapping[str, Any]] = {
    "apiVersion": _STRING,
    "kind": _STRING,
    "metadata": {"type": "object", "properties": {"name": _STRING, "generateName": _STRING}},
}
_STRING_FORMATS = {
    "date-time": "timestamp",
    "date": "timestamp",
    "duration": "duration",
    "byte": "bytes",
}
_BOOL, _DOUBLE, _INT = CelType("bool"), CelType("double"), CelType("int")


PRESENT = True  # what a field only tested by has() is bound to: its presence is all that counts


def to_cel(
    value: Any,
    view: CelType,
    fields: frozenset[str] | None = None,
    presence: frozenset[str] = frozenset(),
) -> tuple[Any, int]:
    """``value`` as the rule sees it, and how many JSON nodes it holds (for costing).

    ``fields`` limits the top level to those CEL names; those in ``presence``
    are bound to ``PRESENT`` instead of their value (still counted).
    """
    kind = view.kind
    if value is None:
        return None, 1
    if kind == "object" and isinstance(value, dict):
        out: dict[str, Any] = {}
        nodes = 1
        for name, cel_name, sub in view.fields:
            if fields is not None and cel_name not in fields:
                continue
            item = value.get(name)
            if item is None:
                continue  # null reads as absent, as in Kubernetes
            if cel_name in presence:
                out[cel_name] = PRESENT
                nodes += count_nodes(item, sub)
            else:
                out[cel_name], n = to_cel(item, sub)
                nodes += n
        return out, nodes
    if kind == "map" and isinstance(value, dict) and view.elem is not None:
        out = {}
        nodes = 1
        for key, item in value.items():
            out[key], n = to_cel(item, view.elem)
            nodes += n
        return out, nodes
    if kind == "list" and isinstance(value, list) and view.elem is not None:
        items = []
        nodes = 1
        for item in value:
            converted, n = to_cel(item, view.elem)
            items.append(converted)
            nodes += n
        return items, nodes
    if kind == "double" and isinstance(value, int) and not isinstance(value, bool):
        return float(value), 1
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value), 1
    if isinstance(value, str) and kind in _PARSERS:
        parsed = _PARSERS[kind](value)
        return (value if parsed is None else parsed), 1 + len(value) // 64
    if isinstance(value, str):
        return value, 1 + len(value) // 64
    return value, 1


def count_nodes(value: Any, view: CelType) -> int:
    """The node count ``to_cel(value, view)`` returns, without converting anything."""
    if value is None:
        return 1
    kind = view.kind
    if kind == "object" and isinstance(value, dict):
        nodes = 1
        for name, _, sub in view.fields:
            item = value.get(name)
            if item is not None:
                nodes += count_nodes(item, sub)
        return nodes
    if kind in ("map", "list") and isinstance(value, dict | list) and view.elem is not None:
        if (kind == "map") != isinstance(value, dict):
            return 1
        items = value.values() if isinstance(value, dict) else value
        return 1 + sum(count_nodes(item, view.elem) for item in items)
    if isinstance(value, str):
        return 1 + len(value) // 64
    return 1


def _timestamp(text: str) -> datetime.datetime | None:
    try:
        if len(text) == 10:  # format: date
            day = datetime.date.fromisoformat(text)
            return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
        parsed = datetime.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
    "h": 3600.0, "d": 86400.0, "w": 604800.0,
}  # fmt: skip


def _duration(text: str) -> datetime.timedelta | None:
    """A Go/strfmt duration (``1h30m``, ``-5s``) as a timedelta."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-").replace(" ", "")
    parts = _DURATION_PART.findall(body)
    if not body or "".join(a + b for a, b in parts) != body:
        return None
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    return datetime.timedelta(seconds=sign * seconds)


def _bytes(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


_PARSERS = {"timestamp": _timestamp, "duration": _duration, "bytes": _bytes}


def valid_field_path(path: str, schema: Mapping[str, Any]) -> str | None:
    """A rule's ``fieldPath`` as a field path string (``.spec['a.b']`` -> ``spec[a.b]``).

    Kubernetes' ``ValidFieldPath``: ``.name`` and ``['name']`` steps into
    declared properties or map keys only. Raises ValueError naming what is wrong.
    """
    out = ""
    node: Mapping[str, Any] = schema
    for name in _path_steps(path):
        properties = node.get("properties")
        additional = node.get("additionalProperties")
        if properties is not None:
            if name not in properties:
                raise ValueError("does not refer to a valid field")
            node = properties[name]
            out = f"{out}.{name}" if out else name
        elif isinstance(additional, Mapping):
            node = additional
            out = f"{out}[{name}]"
        else:
            raise ValueError("does not refer to a valid field")
    return out or None


_STEP = re.compile(r"\.([^.\[\]]+)|\[\s*'((?:\\.|[^'\\])*)'\s*\]")


def _path_steps(path: str) -> list[str]:
    steps = []
    pos = 0
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None:
            raise ValueError(f"expected [ or . but got: {path[pos:]}")
        if match.group(1) is not None:
            steps.append(match.group(1))
        else:
            steps.append(re.sub(r"\\(.)", r"\1", match.group(2)))
        pos = match.end()
    return steps

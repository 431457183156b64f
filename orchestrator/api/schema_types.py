"""The building blocks of our schemas and the one walker that reads them.

A schema is a tree of three frozen node types plus scalar names:

- ``Struct``: an object whose known fields each have a type. A closed struct
  reports any other field as unknown; an ``open`` one (the top of a kind we do
  not know) lets them pass.
- ``ListOf`` / ``MapOf``: a JSON array / an object with arbitrary string keys.
- scalars: ``STRING``, ``INTEGER``, ``BOOLEAN``, ``NUMBER``, ``INT_OR_STRING``
  (targetPort, maxSurge), ``QUANTITY`` (``"500m"`` or ``2``), and the
  free-form ``OBJECT`` (any JSON object, not looked into) and ``ANY``.

``walk_schema`` yields both kinds of finding in one pass: unknown fields and
values of the wrong JSON type. It never looks inside a value whose type is
already wrong, nor inside free-form parts. JSON ``null`` counts as "unset"
everywhere, as Go's decoder treats it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeGuard, Union

STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
NUMBER = "number"
INT_OR_STRING = "int-or-string"
QUANTITY = "quantity"
OBJECT = "object"
ANY = "any"


@dataclass(frozen=True)
class Struct:
    """An object with known fields; ``open`` ones accept fields we do not know."""

    fields: Mapping[str, FieldType]
    open: bool = False


@dataclass(frozen=True)
class ListOf:
    item: FieldType


@dataclass(frozen=True)
class MapOf:
    value: FieldType


FieldType = Union[str, Struct, ListOf, MapOf]  # noqa: UP007 (runtime alias, forward refs)


@dataclass(frozen=True)
class TypeMismatch:
    """A known field whose JSON value has the wrong type."""

    path: str
    value: Any
    expected: str  # one of the scalar names, "object" or "list"


@dataclass(frozen=True)
class KindSchema:
    group: str
    kind: str
    root: Struct


def struct(**fields: FieldType) -> Struct:
    """A closed struct with the given fields."""
    return Struct(MappingProxyType(dict(fields)))


def extend(base: Struct, **fields: FieldType) -> Struct:
    """``base`` with more fields."""
    return Struct(MappingProxyType({**base.fields, **fields}), base.open)


def join_path(path: str, name: str) -> str:
    """``spec`` + ``ports`` -> ``spec.ports``; the root has no prefix."""
    return f"{path}.{name}" if path else name


def is_integer(value: Any) -> TypeGuard[int]:
    """JSON integers (an integral float counts, a bool does not)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _matches_scalar(expected: str, value: Any) -> bool:
    if expected == STRING:
        return isinstance(value, str)
    if expected == INTEGER:
        return is_integer(value)
    if expected == BOOLEAN:
        return isinstance(value, bool)
    if expected == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected in (INT_OR_STRING, QUANTITY):
        return isinstance(value, str) or is_integer(value) or _matches_scalar(NUMBER, value)
    if expected == OBJECT:
        return isinstance(value, dict)
    return True  # ANY


def walk_schema(
    node: FieldType, value: Any, path: str
) -> Iterator[tuple[str, TypeMismatch | None]]:
    """Yield (path, None) for unknown fields and (path, error) for wrong types."""
    if value is None:
        return
    if isinstance(node, Struct):
        if not isinstance(value, dict):
            yield path, TypeMismatch(path, value, OBJECT)
            return
        for name, child in value.items():
            child_path = join_path(path, name)
            if name in node.fields:
                yield from walk_schema(node.fields[name], child, child_path)
            elif not node.open:
                yield child_path, None
    elif isinstance(node, ListOf):
        if not isinstance(value, list):
            yield path, TypeMismatch(path, value, "list")
            return
        for index, item in enumerate(value):
            yield from walk_schema(node.item, item, f"{path}[{index}]")
    elif isinstance(node, MapOf):
        if not isinstance(value, dict):
            yield path, TypeMismatch(path, value, OBJECT)
            return
        for key, item in value.items():
            yield from walk_schema(node.value, item, f"{path}[{key}]")
    elif not _matches_scalar(node, value):
        yield path, TypeMismatch(path, value, node)

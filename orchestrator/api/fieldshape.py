"""What server-side apply needs to know of a kind's structure: list and map semantics.

Field ownership and the apply merge walk an object and ask, at each list,
whether it is *atomic* (owned and replaced whole), a *set* of scalars (each
value owned on its own, ``v:``), or a *map* keyed by some fields of its
items (each item owned on its own, ``k:``), and at each object whether it
is atomic (owned whole, like a label selector) or granular.

A ``Shape`` is a cursor into that knowledge, moved down with ``child`` and
``item``; two sources:

* built-in kinds (``BuiltinShape``): the strategic-merge keys of
  ``orchestrator.api.patch`` (a list without a merge key is atomic, a scalar
  list with one is a set), corrected by the ``x-kubernetes-list-type`` facts
  of Kubernetes' OpenAPI where they differ (container ports are keyed by
  ``containerPort`` *and* ``protocol``), plus the atomic structs
  (``+structType=atomic``: label selectors, ``fieldRef``...);
* custom kinds (``SchemaShape``): the CRD's structural schema,
  ``x-kubernetes-list-type`` (default atomic), ``x-kubernetes-list-map-keys``
  and ``x-kubernetes-map-type``; its ``metadata`` is ObjectMeta as built in.

Key fields that Kubernetes defaults (a port's ``protocol``) carry their
default in ``ListType.defaults`` so an item applied without one gets the same
``k:`` element as the stored, defaulted item.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from orchestrator.api.patch import find_list_rule

Path = tuple[str, ...]


@dataclass(frozen=True)
class ListType:
    kind: str = "atomic"  # atomic | set | map
    keys: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=lambda: _NO_DEFAULTS)


_NO_DEFAULTS: Mapping[str, Any] = MappingProxyType({})
ATOMIC = ListType()
SET = ListType("set")
_TCP = MappingProxyType({"protocol": "TCP"})


class Shape(Protocol):
    def child(self, name: str) -> Shape: ...

    def item(self) -> Shape: ...

    def list_type(self) -> ListType: ...

    def atomic(self) -> bool:
        """Whether an object here is owned and replaced whole."""
        ...


# Where Kubernetes' list types differ from the strategic-merge keys (matched on the path's tail).
_LIST_FACTS: Mapping[Path, ListType] = MappingProxyType(
    {
        ("containers", "ports"): ListType("map", ("containerPort", "protocol"), _TCP),
        ("initContainers", "ports"): ListType("map", ("containerPort", "protocol"), _TCP),
        ("ephemeralContainers", "ports"): ListType("map", ("containerPort", "protocol"), _TCP),
        ("topologySpreadConstraints",): ListType("map", ("topologyKey", "whenUnsatisfiable")),
    }
)
_SERVICE_PORTS = ListType("map", ("port", "protocol"), _TCP)
# +structType=atomic / +mapType=atomic fields, by name wherever they occur.
_ATOMIC_NAMES = frozenset(
    {
        "nodeSelector",
        "labelSelector",
        "namespaceSelector",
        "fieldRef",
        "resourceFieldRef",
        "configMapKeyRef",
        "secretKeyRef",
        "scaleTargetRef",
    }
)


class BuiltinShape:
    """A built-in kind at one path (field names from the root, list positions left out).

    A plain slotted class, not a frozen dataclass: a walk makes one per field it
    visits, and the answers are cached per (kind, path).
    """

    __slots__ = ("kind", "path")

    def __init__(self, kind: str, path: Path = ()) -> None:
        self.kind = kind
        self.path = path

    def child(self, name: str) -> BuiltinShape:
        return BuiltinShape(self.kind, (*self.path, name))

    def item(self) -> BuiltinShape:
        return self

    def list_type(self) -> ListType:
        return _builtin_list_type(self.kind, self.path)

    def atomic(self) -> bool:
        path = self.path
        if not path:
            return False
        if path[-1] == "selector":
            return path[-2:-1] == ("spec",)  # workloads' LabelSelector, Service's selector map
        return path[-1] in _ATOMIC_NAMES


@functools.lru_cache(maxsize=4096)
def _builtin_list_type(kind: str, path: Path) -> ListType:
    if kind == "Service" and path == ("spec", "ports"):
        return _SERVICE_PORTS
    for size in (2, 1):
        fact = _LIST_FACTS.get(path[-size:]) if len(path) >= size else None
        if fact is not None:
            return fact
    rule = find_list_rule(kind, path)
    if rule is None:
        return ATOMIC
    if rule.merge_key is None:
        return SET
    return ListType("map", (rule.merge_key,))


_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SchemaShape:
    """A custom kind's structural schema (``openAPIV3Schema``) at one node."""

    schema: Mapping[str, Any]
    root: bool = False

    def child(self, name: str) -> Shape:
        if self.root and name == "metadata":
            return BuiltinShape("", ("metadata",))
        props = self.schema.get("properties")
        sub = props.get(name) if isinstance(props, dict) else None
        if sub is None:
            extra = self.schema.get("additionalProperties")
            sub = extra if isinstance(extra, dict) else _EMPTY
        return SchemaShape(sub)

    def item(self) -> Shape:
        items = self.schema.get("items")
        return SchemaShape(items if isinstance(items, dict) else _EMPTY)

    def list_type(self) -> ListType:
        kind = self.schema.get("x-kubernetes-list-type") or "atomic"
        if kind == "map":
            return ListType("map", tuple(self.schema.get("x-kubernetes-list-map-keys") or ()))
        return SET if kind == "set" else ATOMIC

    def atomic(self) -> bool:
        return self.schema.get("x-kubernetes-map-type") == "atomic"


def shape_of(kind: str, schema: Any = None) -> Shape:
    """The root shape of a ``kind`` object; a custom kind passes its schema."""
    if isinstance(schema, dict):
        return SchemaShape(schema, root=True)
    return BuiltinShape(kind)

"""The known structure of each kind, and the two questions asked of it.

The tables live in ``schema_kinds`` (plain data, one entry per kind) and the
node types in ``schema_types``; this module is what the rest of the system
calls:

- ``find_unknown_fields`` for ``fieldValidation=Strict`` (400 naming the
  field) and ``Warn`` (a ``Warning`` header). Unknown fields are otherwise
  kept: objects stay plain dicts end to end.
- ``find_type_errors`` for validation (a string where a port number belongs
  is a 422 cause).

Kinds are looked up by name, ``Deployment`` or qualified ``Deployment.apps``.
When the object's ``apiVersion`` names another group (a Knative ``Service``
is not a core ``Service``) the kind counts as unknown: only ``apiVersion``,
``kind`` and ``metadata`` are known, everything else passes unchecked.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.schema_kinds import GENERIC, KINDS
from orchestrator.api.schema_types import Struct, TypeMismatch, walk_schema

__all__ = ["TypeMismatch", "find_type_errors", "find_unknown_fields", "lookup_schema"]


def find_unknown_fields(kind: str, obj: dict[str, Any]) -> list[str]:
    """Dotted paths of fields inside known structures that our schema does not know."""
    root = lookup_schema(kind, obj.get("apiVersion"))
    return [path for path, problem in walk_schema(root, obj, "") if problem is None]


def find_type_errors(kind: str, obj: dict[str, Any]) -> list[TypeMismatch]:
    """Known fields whose values have the wrong JSON type."""
    root = lookup_schema(kind, obj.get("apiVersion"))
    return [problem for _, problem in walk_schema(root, obj, "") if problem is not None]


def lookup_schema(kind: str, api_version: Any = None) -> Struct:
    """The root struct for ``kind`` (``Kind`` or ``Kind.group``); generic when unknown."""
    name, _, group = kind.partition(".")
    known = KINDS.get(name)
    if known is None or (group and group != known.group):
        return GENERIC
    if isinstance(api_version, str) and api_version:
        version_group = api_version.rpartition("/")[0]
        if version_group != known.group:
            return GENERIC
    return known.root

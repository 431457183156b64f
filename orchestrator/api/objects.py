"""API objects as code holds them: plain JSON dicts, with typed views of the common parts.

An object stays the dict that was decoded from the wire, from the API server
through the client and every controller, so that each field a client sent
round-trips, including fields no code here knows. ``Obj`` is the one name
for such a dict, and for any JSON object inside one (a spec, a container, a
patch).

The ``TypedDict`` classes (``total=False``: every field may be absent) name
the fields of the parts that every kind shares and code reads most:
``ObjectMeta`` and its ``OwnerReference`` entries (conditions are in
``orchestrator.api.conditions``). They are views for the type checker, not
conversions: the readers below return the very dict inside the object, cast,
never a copy, so a field the view does not name is still there. A view read
from an informer's cache is read-only, like the object it came from; a
missing part reads as a fresh empty dict, and writing to that changes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

Obj = dict[str, Any]


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool  # at most one entry per object has it true (validation's rule)
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]
    managedFields: list[Obj]


def metadata_of(obj: Mapping[str, Any]) -> ObjectMeta:
    """The object's ``metadata`` (an empty view when it has none)."""
    meta = obj.get("metadata")
    return cast(ObjectMeta, meta if isinstance(meta, dict) else {})


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's ``metadata.labels`` (empty when it has none)."""
    return metadata_of(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's ``metadata.annotations`` (empty when it has none)."""
    return metadata_of(obj).get("annotations") or {}


def owner_references_of(obj: Mapping[str, Any]) -> list[OwnerReference]:
    """The object's ``metadata.ownerReferences``, in order (empty when it has none)."""
    return metadata_of(obj).get("ownerReferences") or []


def controller_ref(obj: Mapping[str, Any]) -> OwnerReference | None:
    """The ``ownerReferences`` entry with ``controller: true``, if any."""
    for ref in owner_references_of(obj):
        if ref.get("controller"):
            return ref
    return None

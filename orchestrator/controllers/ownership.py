"""Owner references: which controller an object belongs to, and claiming by selector.

A controller owns what carries its ``ownerReferences`` entry with
``controller: true``. Ownership follows the selector, as in Kubernetes'
``ControllerRefManager``: an orphan that matches is adopted, an owned object
that stopped matching is released, an object controlled by someone else is
never touched. ``plan_claims`` decides; the controller writes the decisions as
merge patches carrying the object's resourceVersion, so a claim based on a
stale cache fails with Conflict (and is retried) instead of overwriting a
concurrent change of owner. Terminating objects are neither adopted nor
released.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.api.objects import (
    Obj,
    OwnerReference,
    controller_ref,
    labels_of,
    metadata_of,
    owner_references_of,
)
from orchestrator.api.selectors import LabelSelector


def controller_of(obj: Obj, kind: str) -> OwnerReference | None:
    """The ownerReference with ``controller: true`` if it is of ``kind``."""
    ref = controller_ref(obj)
    return ref if ref is not None and ref.get("kind") == kind else None


def controller_uid(obj: Obj, kind: str = "") -> list[str]:
    """Index function: the uid of an object's controller (of ``kind``, if given)."""
    ref = controller_of(obj, kind) if kind else controller_ref(obj)
    return [str(ref["uid"])] if ref and ref.get("uid") else []


def owner_reference(owner: Obj, api_version: str, kind: str) -> OwnerReference:
    """A controlling reference to ``owner`` that blocks its foreground deletion."""
    meta = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_terminating(obj: Obj) -> bool:
    return bool(metadata_of(obj).get("deletionTimestamp"))


@dataclass(frozen=True)
class Claims:
    owned: tuple[Obj, ...]  # controlled by the owner and matching (adopted ones included)
    adopt: tuple[Obj, ...]  # orphans to take
    release: tuple[Obj, ...]  # owned objects that no longer match


def plan_claims(
    owner_uid: str, selector: LabelSelector, candidates: Iterable[Obj], *, can_adopt: bool
) -> Claims:
    """Sort ``candidates`` (one namespace) into owned, to adopt and to release."""
    owned: list[Obj] = []
    adopt: list[Obj] = []
    release: list[Obj] = []
    for obj in candidates:
        ref = controller_ref(obj)
        matches = selector.matches(labels_of(obj))
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if matches:
                owned.append(obj)
            elif not is_terminating(obj):
                release.append(obj)
        elif matches and can_adopt and not is_terminating(obj):
            adopt.append(obj)
            owned.append(obj)
    return Claims(tuple(owned), tuple(adopt), tuple(release))


def adopt_patch(obj: Obj, ref: OwnerReference) -> Obj:
    """Merge patch adding ``ref`` to ``obj``'s owners, valid only for its current version."""
    refs = [r for r in owner_references_of(obj) if r.get("uid") != ref["uid"]]
    return {
        "metadata": {
            "ownerReferences": [*refs, ref],
            "resourceVersion": obj["metadata"]["resourceVersion"],
        }
    }


def release_patch(obj: Obj, owner_uid: str) -> Obj:
    """Merge patch removing the owner ``owner_uid`` from ``obj``."""
    refs = [r for r in owner_references_of(obj) if r.get("uid") != owner_uid]
    return {
        "metadata": {
            "ownerReferences": refs or None,
            "resourceVersion": obj["metadata"]["resourceVersion"],
        }
    }

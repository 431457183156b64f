"""Validation of API objects: every bad field at once, in Kubernetes' words.

``validate`` runs three layers over a plain dict and concatenates what they
find, so a client sees all its mistakes in one 422:

1. JSON types of every field the schema knows (``schema.find_type_errors``);
2. metadata rules shared by all kinds, known or not (name, generateName,
   namespace, labels, annotations, owner references, finalizers);
3. the kind's own rules (``validation_kinds.KIND_RULES``), which skip values
   whose type is already reported, so no field is blamed twice.

``validate_update`` adds the rules about what may not change
(``validation_update``). Neither mutates its input. The API server defaults
first (``defaults.apply_defaults``), fills a generated name, then validates
the final object. ``format_invalid_message`` renders the Status message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from orchestrator.api import errors
from orchestrator.api.resources import ResourceType
from orchestrator.api.schema import find_type_errors, lookup_schema
from orchestrator.api.schema_kinds import GENERIC
from orchestrator.api.validation_causes import (
    Cause,
    forbidden,
    invalid,
    invalid_all,
    required,
    too_long,
)
from orchestrator.api.validation_kinds import KIND_RULES
from orchestrator.api.validation_names import (
    check_dns1035_label,
    check_dns1123_label,
    check_dns1123_subdomain,
    check_qualified_name,
)
from orchestrator.api.validation_pods import as_dict, as_list, validate_labels
from orchestrator.api.validation_rbac import check_path_segment_name
from orchestrator.api.validation_update import UPDATE_RULES

__all__ = ["Cause", "format_invalid_message", "validate", "validate_update"]

ANNOTATIONS_SIZE_LIMIT = 256 * 1024
NAME_CHECKS: dict[str, Callable[[str], list[str]]] = {
    "Namespace": check_dns1123_label,
    "Service": check_dns1035_label,
    **dict.fromkeys(
        ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"), check_path_segment_name
    ),
}
EXPECTED_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "a boolean",
    "number": "a number",
    "int-or-string": "an integer or a string",
    "quantity": "a quantity (a string or a number)",
    "object": "an object",
    "list": "a list",
}


def validate(kind: str, obj: dict[str, Any], *, namespaced: bool) -> list[Cause]:
    """Every problem with ``obj`` as a ``kind`` (``Pod`` or ``Deployment.apps``)."""
    type_causes = [
        invalid(m.path, m.value, f"{m.path} must be {EXPECTED_TYPES.get(m.expected, m.expected)}")
        for m in find_type_errors(kind, obj)
    ]
    known = lookup_schema(kind, obj.get("apiVersion")) is not GENERIC
    name = kind.partition(".")[0]
    causes = validate_metadata(name if known else "", obj.get("metadata"), namespaced=namespaced)
    rule = KIND_RULES.get(name) if known else None
    if rule is not None:
        causes += rule(obj)
    blamed = {c.field for c in type_causes}
    metadata_first = [c for c in causes if c.field.startswith("metadata")]
    rest = [c for c in causes if not c.field.startswith("metadata")]
    return (
        [c for c in metadata_first if c.field not in blamed]
        + type_causes
        + [c for c in rest if c.field not in blamed]
    )


def validate_update(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """Fields that changed from ``old`` to ``new`` but may not."""
    causes = _new_finalizers_while_deleting(old, new)
    if lookup_schema(kind, new.get("apiVersion")) is GENERIC:
        return causes
    rule = UPDATE_RULES.get(kind.partition(".")[0])
    return causes + rule(old, new) if rule is not None else causes


def _new_finalizers_while_deleting(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    if not old_meta.get("deletionTimestamp"):
        return []
    before = set(old_meta.get("finalizers") or [])
    added = [f for f in new_meta.get("finalizers") or [] if f not in before]
    if not added:
        return []
    return [
        forbidden(
            "metadata.finalizers",
            "no new finalizers can be added if the object is "
            f"being deleted, found new finalizers {added}",
        )
    ]


def format_invalid_message(
    kind_with_group: str, name: str, causes: Iterable[Cause], more: int = 0
) -> str:
    """``Deployment.apps "web" is invalid: [a: ..., b: ...]`` (no brackets for one cause);
    ``more`` causes left out are counted at the end."""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    unique = list(dict.fromkeys(parts))
    if more:
        unique.append(f"and {more} more errors not listed")
    body = unique[0] if len(unique) == 1 else f"[{', '.join(unique)}]"
    return f'{kind_with_group} "{name}" is invalid: {body}'


# An object may be built to fail everywhere (a Pod of 500,000 empty containers fits the body
# limit and fails twice each): its 422 lists this many causes and counts the rest, so the
# answer stays small whatever the object (Kubernetes lists all; Go writes them faster).
MAX_LISTED_CAUSES = 1000


def invalid_error(rt: ResourceType, name: str, causes: list[Cause]) -> errors.Invalid:
    """The 422 for ``causes`` of object ``name`` of ``rt``, as Kubernetes words it."""
    listed = causes[:MAX_LISTED_CAUSES]
    return errors.Invalid(
        format_invalid_message(rt.qualified_kind, name, listed, len(causes) - len(listed)),
        details={
            "name": name,
            "group": rt.group,
            "kind": rt.kind,
            "causes": [
                {"reason": c.reason, "message": c.message, "field": c.field} for c in listed
            ],
        },
    )


def validate_metadata(kind: str, metadata: Any, *, namespaced: bool) -> list[Cause]:
    """The ObjectMeta rules every kind shares; ``kind`` picks the name rule."""
    metadata = as_dict(metadata)
    check_name = NAME_CHECKS.get(kind, check_dns1123_subdomain)
    causes: list[Cause] = []
    name, generate_name = metadata.get("name"), metadata.get("generateName")
    if isinstance(name, str) and name:
        causes += invalid_all("metadata.name", name, check_name(name))
    elif not generate_name:
        causes.append(required("metadata.name", "name or generateName is required"))
    if isinstance(generate_name, str) and generate_name and not name:
        prefix = generate_name.rstrip("-") or generate_name
        causes += invalid_all("metadata.generateName", generate_name, check_name(prefix))
    namespace = metadata.get("namespace")
    if namespaced and not namespace:
        causes.append(required("metadata.namespace"))
    elif namespaced and isinstance(namespace, str):
        causes += invalid_all("metadata.namespace", namespace, check_dns1123_label(namespace))
    causes += validate_labels("metadata.labels", metadata.get("labels"))
    causes += _validate_annotations(metadata.get("annotations"))
    causes += _validate_owner_references(metadata.get("ownerReferences"))
    for i, finalizer in enumerate(as_list(metadata.get("finalizers"))):
        if isinstance(finalizer, str):
            field = f"metadata.finalizers[{i}]"
            causes += invalid_all(field, finalizer, check_qualified_name(finalizer))
    return causes


def _validate_annotations(annotations: Any) -> list[Cause]:
    causes: list[Cause] = []
    size = 0
    for key, value in as_dict(annotations).items():
        causes += invalid_all("metadata.annotations", key, check_qualified_name(key.lower()))
        size += len(key) + (len(value) if isinstance(value, str) else 0)
    if size > ANNOTATIONS_SIZE_LIMIT:
        causes.append(too_long("metadata.annotations", ANNOTATIONS_SIZE_LIMIT))
    return causes


def _validate_owner_references(references: Any) -> list[Cause]:
    causes: list[Cause] = []
    controllers = 0
    for i, reference in enumerate(as_list(references)):
        reference = as_dict(reference)
        for key in ("apiVersion", "kind", "name", "uid"):
            if not reference.get(key):
                causes.append(required(f"metadata.ownerReferences[{i}].{key}"))
        controllers += reference.get("controller") is True
    if controllers > 1:
        detail = "Only one reference can have Controller set to true"
        causes.append(invalid("metadata.ownerReferences", references, detail))
    return causes

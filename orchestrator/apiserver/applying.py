"""Server-side apply: merge a manager's configuration, prune what it let go, find conflicts.

structured-merge-diff's ``Apply``, in order, over plain JSON:

1. the configuration is merged into the live object by the schema's list
   and map semantics (``applymerge.merge``);
2. the manager's Apply entry becomes exactly the configuration's field set;
3. fields the manager applied last time and applies no more are removed,
   unless another manager (or the new configuration) still owns them or
   something below them;
4. the result is compared with the live object: another manager's field
   that was added or given another value is a conflict, answered 409 with
   every (manager, path) pair unless ``force``, which moves it over; fields
   the apply removed leave every manager.

Client-side apply's successor (Kubernetes' lastAppliedManager and
lastAppliedUpdater): when the manager is ``kubectl`` and the object carries
``kubectl.kubernetes.io/last-applied-configuration``, a conflict on a field
whose live value is still what that annotation says is no conflict (the
field is taken over, as if forced), and the annotation is rewritten to the
applied configuration so client-side apply keeps working afterwards.
kubectl then hands the client-side manager's fields to ``kubectl`` itself
(a JSON patch of managedFields) and applies again, which prunes what the
new manifest dropped.

Applying what is already there changes nothing: no field differs, the entry
is the same set, its time is kept, so the registry sees an identical object
and writes nothing (no new resourceVersion).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from orchestrator.api import errors, fieldpath
from orchestrator.api.applymerge import merge, remove
from orchestrator.api.copying import copy_json
from orchestrator.api.fieldpath import FieldSet
from orchestrator.api.fieldsets import compare, fields_of
from orchestrator.api.fieldshape import Shape
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType
from orchestrator.apiserver import objectmeta
from orchestrator.apiserver.managedfields import (
    Entry,
    cap_updates,
    encode,
    owned_view,
    shape_for,
    stored_entries,
)

CSA_SUCCESSOR = "kubectl"  # the manager kubectl apply --server-side uses by default
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def check_config(config: Any) -> dict[str, Any]:
    """The applied configuration, refused (400) when it is not an object or sets managedFields."""
    if not isinstance(config, dict):
        raise errors.BadRequest("an applied configuration must be an object")
    meta = config.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")
    return config


def applied_entry(rt: ResourceType, config: dict[str, Any], manager: str) -> Entry:
    """The Apply entry of a manager that applied ``config``."""
    fields = fields_of(owned_view(rt, config, ""), shape_for(rt))
    return Entry(manager, "Apply", rt.api_version, fields, objectmeta.now_rfc3339())


def create_applied(rt: ResourceType, config: dict[str, Any], manager: str) -> Obj:
    """The body of a create by apply, with its manager's entry."""
    body = copy_json(config)
    entry = applied_entry(rt, config, manager)
    if entry.fields:
        body.setdefault("metadata", {})["managedFields"] = encode([entry])
    return body


def apply(
    rt: ResourceType,
    live: Obj,
    config: dict[str, Any],
    manager: str,
    *,
    force: bool,
    subresource: str = "",
) -> Obj:
    """``live`` with ``config`` applied by ``manager``; raises ``Conflict`` (409)."""
    shape = shape_for(rt)
    entries = stored_entries(live)
    base = {k: v for k, v in live.items()}
    base["metadata"] = {k: v for k, v in live["metadata"].items() if k != "managedFields"}
    merged = merge(base, config, shape)  # copies what it takes from ``config``
    applied = fields_of(owned_view(rt, config, subresource), shape)
    mine = next(
        (
            e
            for e in entries
            if e.operation == "Apply" and e.manager == manager and e.subresource == subresource
        ),
        None,
    )
    others = [e for e in entries if e is not mine]
    if mine is not None and mine.fields:
        merged = _prune(merged, mine.fields, applied, others, shape)
    changed = compare(owned_view(rt, live, subresource), owned_view(rt, merged, subresource), shape)
    touched = fieldpath.union(changed.added, changed.modified)
    conflicts = [(e, fieldpath.intersection(e.fields, touched)) for e in others]
    conflicts = [(e, c) for e, c in conflicts if c]
    if conflicts and not force and manager == CSA_SUCCESSOR:
        allowed = _unchanged_since_last_applied(rt, live, shape)
        conflicts = [(e, fieldpath.difference(c, allowed)) for e, c in conflicts]
        conflicts = [(e, c) for e, c in conflicts if c]
    if conflicts and not force:
        raise conflict_error(conflicts)
    kept = []
    for e in others:
        fields = fieldpath.difference(fieldpath.difference(e.fields, touched), changed.removed)
        if fields:
            kept.append(e if fields == e.fields else dataclasses.replace(e, fields=fields))
    time = mine.time if mine is not None and changed.same else objectmeta.now_rfc3339()
    kept.append(Entry(manager, "Apply", rt.api_version, applied, time, subresource))
    encoded = encode(cap_updates(kept))
    if encoded:
        merged["metadata"]["managedFields"] = encoded
    if manager == CSA_SUCCESSOR and _last_applied(live) is not None:
        annotations = dict(merged["metadata"].get("annotations") or {})
        annotations[LAST_APPLIED] = _as_last_applied(config)
        merged["metadata"]["annotations"] = annotations
    return merged


def _last_applied(obj: Obj) -> dict[str, Any] | None:
    annotations = obj["metadata"].get("annotations")
    raw = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _unchanged_since_last_applied(rt: ResourceType, live: Obj, shape: Shape) -> FieldSet:
    """The fields client-side apply last set that still hold the value it set."""
    last = _last_applied(live)
    if last is None:
        return {}
    view = owned_view(rt, last, "")
    changed = compare(owned_view(rt, live, ""), view, shape)
    return fieldpath.difference(fields_of(view, shape), changed.modified)


def _as_last_applied(config: dict[str, Any]) -> str:
    """The annotation's value for an applied configuration (without the annotation itself)."""
    body = dict(config)
    meta = dict(body.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    body["metadata"] = meta
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _prune(merged: Obj, last: FieldSet, applied: FieldSet, others: list[Entry], shape: Any) -> Obj:
    """``merged`` without what the manager applied before, let go, and nobody else owns."""
    dropped = fieldpath.difference(last, applied)
    if not dropped:
        return merged
    owned = applied
    for e in others:
        owned = fieldpath.union(owned, e.fields)
    gone: FieldSet = {}
    for path in fieldpath.members(dropped):  # parents come before their children
        if fieldpath.contains_under(owned, path):
            continue
        node: FieldSet | None = gone
        for element in path[:-1]:
            assert node is not None
            child = node.get(element)
            if child is not None and fieldpath.is_member(child):
                node = None  # an ancestor goes already, and all below it
                break
            node = node.setdefault(element, {})
        if node is not None:
            node[path[-1]] = {}
    return remove(merged, gone, shape) if gone else merged


def conflict_error(conflicts: list[tuple[Entry, FieldSet]]) -> errors.Conflict:
    """Kubernetes' 409 for apply conflicts: one cause per (manager, field)."""
    pairs = [
        (entry.describe(), fieldpath.path_string(path))
        for entry, fields in conflicts
        for path in fieldpath.members(fields)
    ]
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": path}
        for who, path in pairs
    ]
    if len(pairs) == 1:
        who, path = pairs[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {path}"
    else:
        lines = []
        for who in sorted({who for who, _ in pairs}):
            lines.append(f"conflicts with {who}:")
            lines += [f"- {path}" for w, path in pairs if w == who]
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, details={"causes": causes})

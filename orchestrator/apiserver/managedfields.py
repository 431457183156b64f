"""``metadata.managedFields``: who owns which fields, kept on every write.

Each entry is one manager's field set (``fieldpath``) with how it wrote
(``Apply`` or ``Update``), the API version, when its fields last changed and
through which subresource. Entries are told apart as Kubernetes does: an
applier by its name alone, an updater by name, version and subresource.

Every create, update and non-apply patch goes through ``record_write``
(called once by the registry, after defaulting, so defaulted fields belong
to the writer, as on Kubernetes): the write is compared with the stored
object; the writer's Update entry gains what was added or modified; every
other entry loses that (an update always wins) and whatever was removed.
Server-side apply computes its entries itself (``applying.py``), with the
same helpers.

What a client sends in ``managedFields`` counts as on Kubernetes: absent or
unchanged, the stored entries carry on; ``[]`` or ``[{}]`` strips them all;
other entries replace the stored ones (how ``kubectl`` hands client-side
apply's fields to its server-side apply manager) after validation (422 for
an unknown operation or fieldsType, a bad manager name). A ``fieldsV1`` that
does not parse is ignored in favour of the stored entries, as Kubernetes
does. Only main-resource writes may set them.

Field sets leave out what the server owns (``metadata.uid``, ``name``...,
the ``apiVersion`` and ``kind``); a kind with a status subresource keeps
``status`` out of main-resource sets and everything but ``status`` out of
status sets. More than ten Update entries are folded, oldest first, into
one ``ancient-changes`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from orchestrator.api import fieldpath
from orchestrator.api.fieldpath import FieldSet
from orchestrator.api.fieldsets import compare
from orchestrator.api.fieldshape import Shape, shape_of
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType
from orchestrator.api.strategy import strategy_of
from orchestrator.api.validation import invalid_error
from orchestrator.api.validation_causes import Cause, invalid, too_long
from orchestrator.apiserver import objectmeta

MAX_UPDATE_MANAGERS = 10  # Kubernetes' DefaultMaxUpdateManagers
ANCIENT = "ancient-changes"
_STRIPPED_META = frozenset(
    {
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    }
)
_OPERATIONS = ("Apply", "Update")


@dataclass(frozen=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str = ""
    subresource: str = ""

    @property
    def identity(self) -> tuple[str, str, str, str]:
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = self.fields
        if self.subresource:
            out["subresource"] = self.subresource
        return out

    def describe(self) -> str:
        """The manager as Kubernetes names it in conflicts."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


def manager_from_user_agent(user_agent: str) -> str:
    """Kubernetes' default field manager: the client's name, ``kubectl`` of ``kubectl/v1.31``."""
    return user_agent.split("/", 1)[0][:128]


def shape_for(rt: ResourceType) -> Shape:
    return shape_of(rt.kind, getattr(strategy_of(rt), "schema", None))


def owned_view(rt: ResourceType, obj: Obj | None, subresource: str) -> dict[str, Any]:
    """The part of ``obj`` whose fields managers own (a shallow view, not a copy)."""
    if not obj:
        return {}
    if subresource == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    view = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if rt.has_status:
        view.pop("status", None)
    meta = view.get("metadata")
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if k not in _STRIPPED_META}
        if kept:
            view["metadata"] = kept
        else:
            del view["metadata"]  # ``metadata`` itself is never owned
    return view


def decode(value: Any, *, stored: bool = False) -> list[Entry]:
    """Entries from a validated ``managedFields`` list (``stored``: ours, not walked again)."""
    if not isinstance(value, list):
        return []
    entries = []
    for raw in value:
        fields = raw.get("fieldsV1", {}) if isinstance(raw, dict) else None
        if not isinstance(fields, dict) or not (stored or fieldpath.is_valid(fields)):
            raise _Undecodable
        entries.append(
            Entry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "")),
                api_version=str(raw.get("apiVersion", "")),
                fields=fields,
                time=str(raw.get("time") or ""),
                subresource=str(raw.get("subresource") or ""),
            )
        )
    return entries


class _Undecodable(Exception):
    """A fieldsV1 that is not a field set: the stored entries are kept instead."""


def validate(value: Any) -> list[Cause]:
    """Kubernetes' ObjectMeta rules for managedFields a client sends."""
    if not isinstance(value, list):
        return [invalid("metadata.managedFields", value, "must be a list")]
    causes = []
    for i, raw in enumerate(value):
        where = f"metadata.managedFields[{i}]"
        if not isinstance(raw, dict):
            causes.append(invalid(where, raw, "must be an object"))
            continue
        operation = raw.get("operation", "")
        if operation not in _OPERATIONS:
            causes.append(invalid(f"{where}.operation", operation, "must be `Apply` or `Update`"))
        kind = raw.get("fieldsType") or ""
        if kind and kind != "FieldsV1":
            causes.append(invalid(f"{where}.fieldsType", kind, "must be `FieldsV1`"))
        manager = raw.get("manager", "")
        if not isinstance(manager, str):
            causes.append(invalid(f"{where}.manager", manager, "must be a string"))
        elif len(manager) > 128:
            causes.append(too_long(f"{where}.manager", 128))
        elif not manager.isprintable():
            causes.append(
                invalid(f"{where}.manager", manager, "must only contain printable characters")
            )
        sub = raw.get("subresource") or ""
        if isinstance(sub, str) and len(sub) > 256:
            causes.append(too_long(f"{where}.subresource", 256))
    return causes


def encode(entries: list[Entry]) -> list[dict[str, Any]]:
    """Entries in Kubernetes' order: Apply before Update, then by time, manager, version."""
    ordered = sorted(
        entries,
        key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource),
    )
    return [e.encode() for e in ordered if e.fields]


def is_reset(value: Any) -> bool:
    """``[]`` or ``[{}]``: the client strips managedFields."""
    return isinstance(value, list) and (not value or value == [{}])


def stored_entries(obj: Obj | None) -> list[Entry]:
    if not obj:
        return []
    try:
        return decode(obj.get("metadata", {}).get("managedFields"), stored=True)
    except _Undecodable:
        return []


def cap_updates(entries: list[Entry]) -> list[Entry]:
    """At most ``MAX_UPDATE_MANAGERS`` Update entries: the oldest are merged into one."""
    updates = [e for e in entries if e.operation == "Update"]
    if len(updates) <= MAX_UPDATE_MANAGERS:
        return entries
    updates.sort(key=lambda e: e.time)
    excess = len(updates) - MAX_UPDATE_MANAGERS + 1
    folded = [e for e in updates[:excess]]
    ancient = next((e for e in folded if e.manager == ANCIENT), None)
    fields: FieldSet = {}
    for e in folded:
        fields = fieldpath.union(fields, e.fields)
    merged = Entry(ANCIENT, "Update", folded[-1].api_version, fields, folded[-1].time)
    if ancient is not None:
        merged = replace(merged, api_version=ancient.api_version)
    gone = {id(e) for e in folded}
    return [e for e in entries if id(e) not in gone] + [merged]


def record_write(
    rt: ResourceType,
    current: Obj | None,
    new: Obj,
    manager: str,
    subresource: str = "",
) -> None:
    """Set ``new``'s managedFields for a create (``current`` None) or an update by ``manager``."""
    meta = new["metadata"]
    sent = meta.get("managedFields")
    if is_reset(sent):
        meta.pop("managedFields", None)
        return
    entries: list[Entry] | None = None
    stored = current["metadata"].get("managedFields") if current else None
    if sent is not None and sent != stored and not subresource:
        causes = validate(sent)
        if causes:
            raise invalid_error(rt, str(meta.get("name", "")), causes)
        try:
            entries = decode(sent)
        except _Undecodable:
            entries = None
    if entries is None:
        entries = stored_entries(current)
    if manager:
        entries = take_update(rt, entries, current, new, manager, subresource)
    encoded = encode(entries)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def take_update(
    rt: ResourceType,
    entries: list[Entry],
    current: Obj | None,
    new: Obj,
    manager: str,
    subresource: str,
) -> list[Entry]:
    """The entries after ``manager`` wrote ``new`` over ``current`` with an Update."""
    shape = shape_for(rt)
    changed = compare(owned_view(rt, current, subresource), owned_view(rt, new, subresource), shape)
    if changed.same:
        return entries
    taken = fieldpath.union(changed.added, changed.modified)
    mine = Entry(manager, "Update", rt.api_version, {}, subresource=subresource)
    out = []
    for e in entries:
        if e.identity == mine.identity:
            mine = e
            continue
        fields = fieldpath.difference(fieldpath.difference(e.fields, taken), changed.removed)
        if fields:
            out.append(e if fields == e.fields else replace(e, fields=fields))
    fields = fieldpath.union(fieldpath.difference(mine.fields, changed.removed), taken)
    out.append(replace(mine, fields=fields, time=objectmeta.now_rfc3339()))
    return cap_updates(out)

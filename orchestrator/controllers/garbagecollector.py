"""The garbage collector: ownerReferences cascade, in the three propagation modes.

It keeps one informer per kind it can collect (listed, watched, patched
and deleted; Events are ignored, as Kubernetes does), each indexed by the
uids its objects name as owners. That index is the owner -> dependents
graph, across kinds: built-in and custom owners and dependents alike.

The kinds come from two places. The catalogue in its settings (else the
client's) is watched from the start through the process's shared
informers, for the process's life. Every other kind is learned from
discovery (``ServedKinds``, re-read every ``discovery_interval``): a kind
that appears gets an informer of the collector's own, run in its task
group, and the objects already cached that name an owner of that kind are
looked at again (their owner was "unknown" before); a kind that goes has
its informer stopped. Until discovery has answered once and while an
informer has not listed yet, the graph is incomplete, so work waits
(``unsynced_retry``) rather than decide on it: an orphaning owner must not
lose its finalizer before its custom dependents lose their references (they
would then be collected as dangling), nor a foreground owner before its
dependents of a kind not cached yet are gone.

Handlers only enqueue keys (``group_resource|namespace/name``): an object
with ownerReferences, an object being deleted with the ``orphan`` or
``foregroundDeletion`` finalizer, the dependents of an object that went
away, and the owners of a dependent that went away or dropped a reference
(a foreground owner may be waiting for it). A periodic resync re-enqueues
every owned or finalizing object, which heals anything missed.

One worker pass handles one object, in one of two roles:

- As a finalizing owner. ``orphan``: remove the reference to it from every
  cached dependent, then remove the finalizer (the object then goes).
  ``foregroundDeletion``: enqueue its dependents (each then sees this owner
  "waiting" and deletes itself), and remove the finalizer once no dependent
  with ``blockOwnerDeletion: true`` is left.
- As a dependent (``plan_dependent``): each owner is solid (exists with the
  same uid), dangling (404, or a different uid: a new object of the same
  name is NOT the owner) or waiting (being deleted in the foreground). Only
  solid owners: nothing. Some solid, some not: drop the references to the
  others. None solid: delete the object, in the foreground when it waits on
  a foreground owner and has dependents of its own, else in the background.

Absence is confirmed by a live GET before anything is deleted (caches of
different kinds are not in step: a Job's pod can be seen before its Job),
and the uids of owners known gone are remembered (bounded) to spare GETs.
Deletes carry the dependent's uid and cached resourceVersion as
preconditions, reference and finalizer patches the cached resourceVersion:
a 409 means the cache was behind and the pass is retried by the worker
loop, so every step is idempotent. The resourceVersion on deletes matters:
each kind has its own watch, so an orphaned dependent can still show its
old owner in the cache when that owner's deletion arrives, and a delete
planned on that stale copy would collect what was just orphaned. An owner
whose kind has never been served is treated as present: never delete on a
guess. A kind that was served and went (its CRD deleted) is remembered
with its last type: an owner of that kind is looked up live at its old
path, and the 404 of a kind no longer served is as good as any other. The
CRD's cleanup may delete the owners before the collector's watch of that
kind has listed them, so no deletion ever reaches it: without this, their
dependents were left alone for good (seen under load in the CRD cascade
test).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from orchestrator.api import errors
from orchestrator.api.objects import Obj, OwnerReference, owner_references_of
from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.client.context import ControllerContext
from orchestrator.client.discovery import KindChanges, ServedKinds, kind_key
from orchestrator.client.informer import Handler, Informer, object_key, split_key
from orchestrator.client.rest import resource_path
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import WorkQueue

log = logging.getLogger(__name__)
OWNER_INDEX = "gc-owner-uid"
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class GCSettings:
    types: ResourceTypes | None = None  # kinds to collect; None: the API client's catalogue
    ignored: frozenset[str] = field(  # group_resources left alone (Kubernetes skips Events)
        default_factory=lambda: frozenset({"events", "events.events.k8s.io"})
    )
    resync_period: float = 30.0  # seconds between re-examinations of every owned object
    absent_memory: int = 4096  # owner uids remembered as gone, to spare a GET per dependent
    # Seconds between discovery reads that pick up kinds defined (or removed) at run time; a
    # read is 3 + (served group-versions) small GETs. 0: only the catalogue above.
    discovery_interval: float = 5.0
    unsynced_retry: float = 0.2  # seconds a key waits while a new kind's informer lists


COLLECT_VERBS = frozenset({"list", "watch", "delete", "patch"})


class OwnerState(enum.Enum):
    SOLID = "solid"  # exists, same uid, not being deleted in the foreground
    DANGLING = "dangling"  # gone, or replaced by an object of the same name with another uid
    WAITING = "waiting"  # deleting in the foreground: waits for its dependents


@dataclass(frozen=True)
class DependentPlan:
    action: str  # "keep" | "delete" | "remove_refs"
    policy: str = ""  # propagationPolicy of the delete
    remove_uids: tuple[str, ...] = ()


def owner_uids(obj: Obj) -> list[str]:
    return [r["uid"] for r in owner_references_of(obj) if r.get("uid")]


def plan_dependent(obj: Obj, states: dict[str, OwnerState], has_dependents: bool) -> DependentPlan:
    """What to do with ``obj`` given the state of each of its owners (by uid)."""
    uids = owner_uids(obj)
    if not uids or obj["metadata"].get("deletionTimestamp"):
        return DependentPlan("keep")
    solid = [u for u in uids if states.get(u, OwnerState.SOLID) is OwnerState.SOLID]
    others = tuple(u for u in uids if u not in solid)
    if not others:
        return DependentPlan("keep")
    if solid:
        return DependentPlan("remove_refs", remove_uids=others)
    waiting = any(states.get(u) is OwnerState.WAITING for u in uids)
    if waiting and has_dependents:
        return DependentPlan("delete", policy="Foreground")
    return DependentPlan("delete", policy="Background")


def blocks(dependent: Obj, owner_uid: str) -> bool:
    """Whether ``dependent`` holds up the foreground deletion of ``owner_uid``."""
    return any(
        r.get("uid") == owner_uid and r.get("blockOwnerDeletion") is True
        for r in owner_references_of(dependent)
    )


@dataclass(frozen=True)
class Monitor:
    """One collected kind: its informer, and the task running it if the collector owns it."""

    rt: ResourceType
    informer: Informer
    task: asyncio.Task[None] | None = None  # None: a shared informer, kept for the process's life


class GarbageCollector:
    name = "garbage-collector"

    def __init__(self, ctx: ControllerContext, settings: GCSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or GCSettings()
        self.static = self.settings.types or ctx.client.types
        self.queue = WorkQueue(ctx.backoff, name="garbage_collector_attempt_to_delete")
        self._kinds: dict[str, Monitor] = {}
        self._absent: OrderedDict[str, None] = OrderedDict()
        self._retired: dict[tuple[str, str], ResourceType] = {}  # served once, then gone
        self._group: asyncio.TaskGroup | None = None
        for rt in self.static.per_resource():
            if self._collects(rt):
                self._monitor(Monitor(rt, ctx.informers.informer(rt)))
        static = frozenset(self._kinds)
        self.served = ServedKinds(
            ctx.client,
            lambda rt: self._collects(rt) and rt.group_resource not in static,
            owner=self.name,
        )

    def _collects(self, rt: ResourceType) -> bool:
        return rt.group_resource not in self.settings.ignored and COLLECT_VERBS <= set(rt.verbs)

    def _monitor(self, monitor: Monitor) -> None:
        monitor.informer.add_index(OWNER_INDEX, owner_uids)
        monitor.informer.add_handler(self._handler(monitor.rt))
        self._kinds[monitor.rt.group_resource] = monitor

    def kind_of(self, ref: OwnerReference) -> ResourceType | None:
        """The served type an owner reference names (discovery first, then the catalogue)."""
        api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
        return self.served.types.by_kind(api_version, kind) or self.static.by_kind(
            api_version, kind
        )

    # -- kinds coming and going ---------------------------------------------

    def _apply(self, changes: KindChanges) -> None:
        for rt in changes.added:
            self._retired.pop((rt.group, rt.kind), None)
        for rt in changes.removed:
            self._retired[(rt.group, rt.kind)] = rt
            monitor = self._kinds.get(rt.group_resource)
            if monitor and monitor.task and kind_key(monitor.rt) == kind_key(rt):
                monitor.task.cancel()
                del self._kinds[rt.group_resource]
        assert self._group is not None
        for rt in changes.added:
            if rt.group_resource in self._kinds:
                continue
            informer = Informer(self.ctx.client, rt, settings=self.ctx.informers.settings)
            task = self._group.create_task(informer.run(), name=f"gc-{rt.group_resource}")
            self._monitor(Monitor(rt, informer, task))
        # Dependents whose owner was of a kind unknown until now were left alone, and those
        # whose owner's kind just went may have lost their owner unseen: look again.
        new = {(rt.group, rt.kind) for rt in (*changes.added, *changes.removed)}
        for monitor in list(self._kinds.values()):
            for obj in monitor.informer.list():
                if any(_group_kind(ref) in new for ref in owner_references_of(obj)):
                    self.queue.add(self._key(monitor.rt, obj))

    def _synced(self) -> bool:
        if self.settings.discovery_interval > 0 and not self.served.read:
            return False
        return all(m.informer.synced.is_set() for m in self._kinds.values())

    # -- handlers: enqueue only ------------------------------------------------

    def _handler(self, rt: ResourceType) -> Handler:
        def added(obj: Obj) -> None:
            if owner_uids(obj) or _finalizing(obj):
                self.queue.add(self._key(rt, obj))

        def updated(old: Obj, new: Obj) -> None:
            added(new)
            dropped = set(owner_uids(old)) - set(owner_uids(new))
            if dropped:
                self._enqueue_owners(new, dropped)

        def deleted(obj: Obj) -> None:
            for dep_rt, dep in self._dependents(obj["metadata"].get("uid", "")):
                self.queue.add(self._key(dep_rt, dep))
            self._enqueue_owners(obj, set(owner_uids(obj)))

        return Handler(on_add=added, on_update=updated, on_delete=deleted)

    def _key(self, rt: ResourceType, obj: Obj) -> str:
        return f"{rt.group_resource}|{object_key(obj)}"

    def _enqueue_owners(self, obj: Obj, uids: set[str]) -> None:
        namespace = obj["metadata"].get("namespace", "")
        for ref in owner_references_of(obj):
            if ref.get("uid") not in uids:
                continue
            rt = self.kind_of(ref)
            if rt is not None and rt.group_resource in self._kinds:
                name = f"{namespace}/{ref['name']}" if rt.namespaced else ref["name"]
                self.queue.add(f"{rt.group_resource}|{name}")

    def _dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        """The objects the collector has seen naming ``uid`` as an owner (its caches)."""
        if not uid:
            return []
        return [
            (m.rt, dep)
            for m in list(self._kinds.values())
            for dep in m.informer.by_index(OWNER_INDEX, uid)
        ]

    def dependents(self, uid: str) -> list[str]:
        """Names of the dependents of ``uid`` the collector knows of (what it would orphan)."""
        return [dep["metadata"]["name"] for _, dep in self._dependents(uid)]

    # -- running ---------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._group = tg
                tg.create_task(self._resync())
                tg.create_task(
                    run_workers(
                        self.queue, self.reconcile, workers=self.ctx.workers, name=self.name
                    )
                )
                if self.settings.discovery_interval > 0:
                    tg.create_task(
                        self.served.follow(self.settings.discovery_interval, self._apply)
                    )
        finally:
            self.queue.shutdown()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_period)
            for monitor in list(self._kinds.values()):
                for obj in monitor.informer.list():
                    if owner_uids(obj) or _finalizing(obj):
                        self.queue.add(self._key(monitor.rt, obj))

    async def reconcile(self, key: str) -> float | None:
        """One step for the object at ``key``, as a finalizing owner or as a dependent."""
        group_resource, _, okey = key.partition("|")
        found = self._kinds.get(group_resource)
        if found is None:
            return None
        if not self._synced():
            return self.settings.unsynced_retry
        rt, obj = found.rt, found.informer.get(okey)
        if obj is None:
            return None
        finalizers = obj["metadata"].get("finalizers") or []
        if obj["metadata"].get("deletionTimestamp"):
            if ORPHAN in finalizers:
                await self._orphan_dependents(rt, obj)
            elif FOREGROUND in finalizers:
                await self._delete_dependents_first(rt, obj)
            return None
        if owner_uids(obj):
            await self.collect(rt, obj)
        return None

    # -- as an owner -----------------------------------------------------------

    async def _orphan_dependents(self, rt: ResourceType, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for dep_rt, dep in self._dependents(uid):
            await self._remove_refs(dep_rt, dep, {uid})
        await self._remove_finalizer(rt, owner, ORPHAN)

    async def _delete_dependents_first(self, rt: ResourceType, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        dependents = self._dependents(uid)
        for dep_rt, dep in dependents:
            self.queue.add(self._key(dep_rt, dep))
        if not any(blocks(dep, uid) for _, dep in dependents):
            await self._remove_finalizer(rt, owner, FOREGROUND)

    async def _remove_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        kept = [f for f in meta.get("finalizers") or [] if f != finalizer]
        patch = {
            "metadata": {"finalizers": kept or None, "resourceVersion": meta["resourceVersion"]}
        }
        try:
            await self.ctx.client.patch(rt, meta["name"], patch, meta.get("namespace", ""))
        except errors.NotFound:
            return

    # -- as a dependent --------------------------------------------------------

    async def collect(self, rt: ResourceType, obj: Obj) -> None:
        """Act on dependent ``obj`` as cached: keep it, drop dead references, or delete it."""
        states = {
            ref["uid"]: await self._owner_state(obj, ref)
            for ref in owner_references_of(obj)
            if ref.get("uid")
        }
        has_dependents = bool(self._dependents(obj["metadata"]["uid"]))
        plan = plan_dependent(obj, states, has_dependents)
        if plan.action == "remove_refs":
            await self._remove_refs(rt, obj, set(plan.remove_uids))
        elif plan.action == "delete":
            meta = obj["metadata"]
            path = resource_path(rt, meta.get("namespace", ""), meta["name"])
            pre = {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}
            body = {"propagationPolicy": plan.policy, "preconditions": pre}
            try:
                await self.ctx.client.request("DELETE", path, json_body=body)
            except errors.NotFound:
                return
            log.info(
                "deleted %s %s: its owners are gone (%s)", rt.kind, object_key(obj), plan.policy
            )

    async def _owner_state(self, dependent: Obj, ref: OwnerReference) -> OwnerState:
        uid = ref["uid"]
        if uid in self._absent:
            return OwnerState.DANGLING
        rt = self.kind_of(ref) or self._retired.get(_group_kind(ref))
        if rt is None:
            log.warning(
                "%s names an owner of unknown kind %s/%s: left alone",
                object_key(dependent),
                ref.get("apiVersion"),
                ref.get("kind"),
            )
            return OwnerState.SOLID
        namespace = dependent["metadata"].get("namespace", "") if rt.namespaced else ""
        if rt.namespaced and not namespace:
            return OwnerState.DANGLING  # a cluster-scoped object cannot have a namespaced owner
        found = self._kinds.get(rt.group_resource)
        owner = found.informer.get_by_name(namespace, ref["name"]) if found else None
        if owner is None or owner["metadata"].get("uid") != uid:
            try:  # caches of different kinds are not in step: ask the API before deleting
                owner = await self.ctx.client.get(rt, ref["name"], namespace)
            except errors.NotFound:
                owner = None
            if owner is None or owner["metadata"].get("uid") != uid:
                self._remember_absent(uid)
                return OwnerState.DANGLING
        if _finalizing(owner) == FOREGROUND:
            return OwnerState.WAITING
        return OwnerState.SOLID

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        while len(self._absent) > self.settings.absent_memory:
            self._absent.popitem(last=False)

    async def _remove_refs(self, rt: ResourceType, obj: Obj, uids: set[str]) -> None:
        refs = owner_references_of(obj)
        kept = [r for r in refs if r.get("uid") not in uids]
        if len(kept) == len(refs):
            return
        patch = {
            "metadata": {
                "ownerReferences": kept or None,
                "resourceVersion": obj["metadata"]["resourceVersion"],
            }
        }
        namespace, name = split_key(object_key(obj))
        try:
            await self.ctx.client.patch(rt, name, patch, namespace)
        except errors.NotFound:
            return


def _finalizing(obj: Obj) -> str:
    """The garbage collector's finalizer on an object being deleted, or ``""``."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp"):
        return ""
    finalizers = meta.get("finalizers") or []
    for finalizer in (ORPHAN, FOREGROUND):
        if finalizer in finalizers:
            return finalizer
    return ""


def _group_kind(ref: OwnerReference) -> tuple[str, str]:
    api_version = ref.get("apiVersion", "")
    return (api_version.rpartition("/")[0], ref.get("kind", ""))

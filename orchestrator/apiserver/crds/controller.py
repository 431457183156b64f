"""The definition controller: CRDs become served kinds, and go again.

It runs inside every API server process (as Kubernetes' apiextensions
controllers do), follows the CRD keys through the watch hub and, on every
change, makes one pass over all CRDs (there are tens, not thousands):

1. naming: ``NamesAccepted`` and ``acceptedNames`` (``catalogue.accepted_names``);
   then ``Established``, once the names are accepted (it never reverts);
   ``storedVersions`` gains a new storage version;
2. publishing: the server's catalogue is replaced by the built-in kinds plus
   the Established CRDs' kinds, so routes, discovery and OpenAPI follow
   within one pass of the write (milliseconds);
3. cleanup of a deleted CRD (finalizer ``customresourcecleanup...``):
   ``Terminating`` conditions as Kubernetes words them, every instance deleted
   (their own finalizers honoured, so this waits for their controllers),
   then the finalizer removed and the kind no longer served.

Several API servers on one etcd each run this loop; every write is a
guaranteed update that changes nothing when another server got there first.
Status writes are themselves CRD changes, so the loop also sees its own
writes and reaches a fixed point in a pass or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.api.conditions import Condition, find_condition, set_condition
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.api.validation_pods import as_dict, as_list
from orchestrator.apiserver import objectmeta
from orchestrator.apiserver.crds.catalogue import StrategyCache, accepted_names, custom_types
from orchestrator.apiserver.crds.definition import CLEANUP_FINALIZER, storage_version
from orchestrator.apiserver.registry import Registry, WriteOptions
from orchestrator.apiserver.watchcache import WatchHub
from orchestrator.store.base import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefinitionSettings:
    cleanup_poll: float = 1.0  # how often a deleted CRD checks its remaining instances
    cleanup_timeout: float = 60.0  # then InstanceDeletionCheck, and try again (Kubernetes: 1 min)


class DefinitionController:
    def __init__(
        self,
        registry: Registry,
        hub: WatchHub,
        base: ResourceTypes,
        publish: Callable[[ResourceTypes], None],
        settings: DefinitionSettings | None = None,
    ) -> None:
        self.registry = registry
        self.hub = hub
        self.base = base
        self.publish = publish
        self.settings = settings or DefinitionSettings()
        self.rt = base.require("apiextensions.k8s.io", "CustomResourceDefinition")
        self.cache = StrategyCache()
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    async def run(self) -> None:
        try:
            revision = await self.sync()
            follower = asyncio.create_task(self._follow(revision))
            try:
                while True:
                    await self._wake.wait()
                    self._wake.clear()
                    try:
                        await self.sync()
                    except (errors.APIError, StoreError, OSError):  # retried: the store may be back
                        log.exception("a pass over the CustomResourceDefinitions failed")
                        await asyncio.sleep(0.5)
                        self._wake.set()
            finally:
                follower.cancel()
        finally:
            for task in self._cleanups.values():
                task.cancel()

    async def _follow(self, revision: int) -> None:
        while True:
            try:
                async for _ in self.hub.changes(self.rt.storage_prefix(), revision):
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # Dropped or Compacted: a full pass catches up
                log.info("CRD watch restarted")
                revision = self.hub.revision
                self._wake.set()

    async def sync(self) -> int:
        """One pass: statuses, then the catalogue, then cleanups; returns the list revision."""
        crds, revision, _ = await self.registry.list(self.rt, "")
        self.cache.keep_only(crds)
        expected = [{**crd, "status": desired_status(crd, crds)} for crd in crds]
        if any(e["status"] != crd.get("status") for e, crd in zip(expected, crds, strict=True)):
            # Served before a client can read Established: `kubectl wait --for
            # condition=established` then a create must find the kind.
            self.publish(self.base.with_types(custom_types(expected, self.cache)))
        for crd in crds:
            updated = await self._reconcile(crd, crds)
            if updated is not None:
                crd.clear()
                crd.update(updated)
        custom = custom_types(crds, self.cache)
        self.publish(self.base.with_types(custom))
        for crd in crds:
            name = crd["metadata"]["name"]
            if crd["metadata"].get("deletionTimestamp") and name not in self._cleanups:
                self._cleanups[name] = asyncio.create_task(self._cleanup(crd), name=f"crd-{name}")
        for name, task in list(self._cleanups.items()):
            if task.done():
                del self._cleanups[name]
        return revision

    async def _reconcile(self, crd: Obj, crds: list[Obj]) -> Obj | None:
        wanted = desired_status(crd, crds)
        if wanted == crd.get("status"):
            return None
        name = crd["metadata"]["name"]

        def write(current: Obj) -> Obj:
            current["status"] = desired_status(current, crds)
            return current

        try:
            result = await self.registry.guaranteed_update(
                self.rt, "", name, write, WriteOptions(), check_update=False
            )
        except errors.NotFound:
            return None
        return result.obj

    async def _cleanup(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        try:
            await self._delete_instances(crd)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cleaning up the objects of %s failed; retrying", name)
            await asyncio.sleep(self.settings.cleanup_poll)
            self._wake.set()

    async def _delete_instances(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        rt = instance_type(crd)
        if rt is not None:
            await self._set_terminating(
                name, "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress"
            )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.settings.cleanup_timeout
            while True:
                items, _, _ = await self.registry.list(rt, "")
                if not items:
                    break
                for item in items:
                    meta = item["metadata"]
                    if meta.get("deletionTimestamp"):
                        continue
                    with contextlib.suppress(errors.NotFound, errors.Conflict):
                        await self.registry.delete(
                            rt, meta.get("namespace", ""), meta["name"], {}, WriteOptions()
                        )
                if loop.time() >= deadline:
                    await self._set_terminating(
                        name,
                        "True",
                        "InstanceDeletionCheck",
                        f"could not confirm zero CustomResources remaining: {len(items)} remain",
                    )
                    deadline = loop.time() + self.settings.cleanup_timeout
                await asyncio.sleep(self.settings.cleanup_poll)
            await self._set_terminating(
                name, "False", "InstanceDeletionCompleted", "removed all instances"
            )

        def release(current: Obj) -> Obj:
            meta = current["metadata"]
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != CLEANUP_FINALIZER]
            return current

        with contextlib.suppress(errors.NotFound):
            await self.registry.guaranteed_update(
                self.rt, "", name, release, WriteOptions(), check_update=False
            )
        log.info("CustomResourceDefinition %s deleted with its objects", name)

    async def _set_terminating(self, name: str, status: str, reason: str, message: str) -> None:
        def write(current: Obj) -> Obj:
            st = current.setdefault("status", {})
            st["conditions"] = set_condition(
                st.get("conditions"),
                {
                    "type": "Terminating",
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": objectmeta.now_rfc3339(),
                },
                keep_same_reason=True,
            )
            return current

        with contextlib.suppress(errors.NotFound):
            await self.registry.guaranteed_update(
                self.rt, "", name, write, WriteOptions(), check_update=False
            )


def _condition(type_: str, status: str, reason: str, message: str) -> Condition:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": objectmeta.now_rfc3339(),
    }


def desired_status(crd: Obj, crds: list[Obj]) -> dict[str, Any]:
    """The status ``crd`` should have: names, Established, stored versions."""
    status = dict(as_dict(crd.get("status")))
    conditions = as_list(status.get("conditions"))
    decision = accepted_names(crd, crds)
    status["acceptedNames"] = decision.accepted or {"plural": "", "kind": ""}
    conditions = set_condition(
        conditions,
        _condition(
            "NamesAccepted", "True" if decision.ok else "False", decision.reason, decision.message
        ),
        keep_same_reason=True,
    )
    established = find_condition(conditions, "Established")
    if established is None or established.get("status") != "True":
        if decision.ok:
            wanted = _condition(
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
            )
        else:
            wanted = _condition("Established", "False", "NotAccepted", "not all names are accepted")
        conditions = set_condition(conditions, wanted, keep_same_reason=True)
    if (
        crd["metadata"].get("deletionTimestamp")
        and find_condition(conditions, "Terminating") is None
    ):
        conditions = set_condition(
            conditions,
            _condition(
                "Terminating",
                "True",
                "InstanceDeletionPending",
                "CustomResourceDefinition marked for deletion; "
                "CustomResource deletion will begin soon",
            ),
        )
    status["conditions"] = conditions
    stored = [str(v) for v in as_list(status.get("storedVersions"))]
    storage = storage_version(crd)
    if storage and storage not in stored:
        stored.append(storage)
    status["storedVersions"] = stored
    return status


def instance_type(crd: Obj) -> ResourceType | None:
    """A ResourceType for reaching a CRD's stored objects, whatever its conditions say."""
    spec = as_dict(crd.get("spec"))
    names = as_dict(spec.get("names"))
    storage = storage_version(crd)
    if not storage or not names.get("plural"):
        return None
    return ResourceType(
        group=str(spec.get("group")),
        version=storage,
        kind=str(names.get("kind")),
        plural=str(names["plural"]),
        namespaced=spec.get("scope") == "Namespaced",
        storage_version=storage,
    )

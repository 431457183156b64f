"""The ReplicaSet controller: keeps ``spec.replicas`` pods matching the selector.

Handlers only enqueue ReplicaSet keys: a ReplicaSet changed; a pod changed,
which concerns its controller, or, for an orphan, every set in its namespace
whose selector matches (one of them may adopt it). Pod events also tick off
the set's expectations (``orchestrator.controllers.expectations``).

A pass (``reconcile``) reads the set, the pods it controls and the orphans of
its namespace from the caches (through indexes: a scan of every pod in the
namespace per pass made a 5,000-pod burst quadratic), adopts matching
orphans and releases owned pods that stopped matching, then, only when
every creation and deletion it made earlier has been seen in the cache,
creates or deletes pods as ``plan_replicas`` says, and finally writes the
status (with ``observedGeneration``) if it changed.
Creations go in slow-start batches (1, 2, 4, ...) and stop at the first
failure, which is re-raised so the key is retried with backoff; deletions of
pods already gone count as done. Nothing here survives a restart except
what is in the API: a new process lists, and carries on from there.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj, controller_ref, labels_of, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.selectors import SelectorError, selector_from_label_selector_object
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, object_key, split_key
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import process_queue
from orchestrator.controllers.expectations import Expectations
from orchestrator.controllers.ownership import (
    adopt_patch,
    controller_uid,
    owner_reference,
    plan_claims,
    release_patch,
)
from orchestrator.controllers.replicas import plan_replicas, slow_start_batches

log = logging.getLogger(__name__)


_rt = BUILTIN_TYPES.require
REPLICASETS = _rt("apps", "ReplicaSet")
PODS = _rt("", "Pod")


@dataclass(frozen=True)
class ReplicaSetSettings:
    burst_replicas: int = 500  # most pods created or deleted in one pass (Kubernetes' default)
    expectations_ttl: float = 300.0  # seconds before unobserved creations/deletions are forgotten


def pod_from_template(rs: Obj) -> Obj:
    """A new pod for ``rs``: its template, named ``{rs}-xxxxx``, controlled by it."""
    template = rs.get("spec", {}).get("template", {})
    tmeta = metadata_of(template)
    meta: Obj = {
        "generateName": f"{rs['metadata']['name']}-",
        "namespace": rs["metadata"]["namespace"],
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [owner_reference(rs, "apps/v1", "ReplicaSet")],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec", {})),
    }


ORPHANS = "orphans-by-namespace"  # pod index: the namespace of each pod without a controller


def orphan_namespace(pod: Obj) -> list[str]:
    """Index function: a pod's namespace if no controller owns it."""
    return [pod["metadata"].get("namespace", "")] if controller_ref(pod) is None else []


class ReplicaSetController:
    name = "replicaset"

    def __init__(self, ctx: ControllerContext, settings: ReplicaSetSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or ReplicaSetSettings()
        self.queue = WorkQueue(ctx.backoff, name="replicaset")
        self.expectations = Expectations(self.settings.expectations_ttl)
        self.sets = ctx.informers.informer(REPLICASETS)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_index("controller", controller_uid)
        self.pods.add_index(ORPHANS, orphan_namespace)
        self.sets.add_index("uid", lambda rs: [rs["metadata"]["uid"]])
        self.sets.add_handler(
            Handler(
                on_add=self._enqueue,
                on_update=lambda old, new: self._enqueue(new),
                on_delete=self._set_deleted,
            )
        )
        self.pods.add_handler(
            Handler(
                on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
            )
        )

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    # -- handlers: only enqueue -------------------------------------------------

    def _enqueue(self, rs: Obj) -> None:
        self.queue.add(object_key(rs))

    def _set_deleted(self, rs: Obj) -> None:
        self.expectations.forget(object_key(rs))
        self.queue.add(object_key(rs))

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        owners = self.sets.by_index("uid", str(ref.get("uid")))
        return object_key(owners[0]) if owners else None

    def _enqueue_matching(self, pod: Obj) -> None:
        labels = labels_of(pod)
        for rs in self.sets.list(pod["metadata"].get("namespace", "")):
            try:
                selector = selector_from_label_selector_object(rs.get("spec", {}).get("selector"))
            except SelectorError:
                continue
            if not selector.empty and selector.matches(labels):
                self._enqueue(rs)

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            if pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key, object_key(pod))
            self.queue.add(key)
        elif controller_ref(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if new["metadata"].get("resourceVersion") == old["metadata"].get("resourceVersion"):
            return  # resync: the set's own resync covers it
        key = self._owner_key(new)
        if key is not None and new["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, object_key(new))
        old_key = self._owner_key(old)
        if old_key is not None and old_key != key:
            self.queue.add(old_key)
        if key is not None:
            self.queue.add(key)
        elif controller_ref(new) is None:
            self._enqueue_matching(new)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, object_key(pod))
            self.queue.add(key)

    # -- one pass ---------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        rs = self.sets.get(key)
        if rs is None:
            self.expectations.forget(key)
            return None
        namespace, _ = split_key(key)
        try:
            selector = selector_from_label_selector_object(rs.get("spec", {}).get("selector"))
        except SelectorError as exc:
            log.warning("replicaset %s has an invalid selector: %s", key, exc)
            return None
        deleting = bool(rs["metadata"].get("deletionTimestamp"))
        uid = rs["metadata"]["uid"]
        candidates = [
            p
            for p in self.pods.by_index("controller", uid)
            if p["metadata"].get("namespace") == namespace
        ]
        candidates += self.pods.by_index(ORPHANS, namespace)  # pods of other owners: not ours
        claims = plan_claims(
            uid, selector, candidates, can_adopt=not deleting and not selector.empty
        )
        ref = owner_reference(rs, "apps/v1", "ReplicaSet")
        for pod in claims.adopt:
            await self._claim(pod, adopt_patch(pod, ref))
        for pod in claims.release:
            await self._claim(pod, release_patch(pod, rs["metadata"]["uid"]))
        manage = self.expectations.satisfied(key)
        plan = plan_replicas(
            rs, claims.owned, self.ctx.clock(), manage=manage, burst=self.settings.burst_replicas
        )
        try:
            if plan.create:
                await self._create_pods(key, rs, plan.create)
            if plan.delete:
                await self._delete_pods(key, rs, plan.delete)
        finally:
            await self._write_status(rs, plan.status)
        return plan.requeue_after

    async def _claim(self, pod: Obj, patch: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.ctx.client.patch(PODS, meta["name"], patch, meta["namespace"])
        except errors.NotFound:
            pass

    async def _create_pods(self, key: str, rs: Obj, count: int) -> None:
        self.expectations.expect(key, adds=count)
        template = pod_from_template(rs)
        namespace = rs["metadata"]["namespace"]
        remaining = count
        for batch in slow_start_batches(count):
            results = await asyncio.gather(
                *(self.ctx.client.create(PODS, template, namespace) for _ in range(batch)),
                return_exceptions=True,
            )
            remaining -= batch
            failures = [r for r in results if isinstance(r, BaseException)]
            for pod in results:
                if not isinstance(pod, BaseException):
                    await self._emit(
                        rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"
                    )
            if failures:
                for _ in range(len(failures) + remaining):
                    self.expectations.creation_observed(key)  # will never be seen
                await self._emit(rs, "Warning", "FailedCreate", f"Error creating: {failures[0]}")
                raise failures[0]

    async def _delete_pods(self, key: str, rs: Obj, pods: tuple[Obj, ...]) -> None:
        self.expectations.expect(key, deletes=[object_key(p) for p in pods])
        results = await asyncio.gather(
            *(
                self.ctx.client.delete(PODS, p["metadata"]["name"], p["metadata"]["namespace"])
                for p in pods
            ),
            return_exceptions=True,
        )
        failure: BaseException | None = None
        for pod, result in zip(pods, results, strict=True):
            name = pod["metadata"]["name"]
            if isinstance(result, BaseException) and not isinstance(result, errors.NotFound):
                self.expectations.deletion_observed(key, object_key(pod))
                failure = failure or result
                await self._emit(rs, "Warning", "FailedDelete", f"Error deleting: {result}")
            else:
                await self._emit(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        if failure is not None:
            raise failure

    async def _write_status(self, rs: Obj, status: Obj) -> None:
        if status == rs.get("status"):
            return
        body = {**rs, "status": status}
        try:
            await self.ctx.client.replace(
                REPLICASETS, body, rs["metadata"]["namespace"], subresource="status"
            )
        except errors.NotFound:
            pass

    async def _emit(self, rs: Obj, type_: str, reason: str, message: str) -> None:
        await self.ctx.recorder.emit(
            {**rs, "apiVersion": "apps/v1", "kind": "ReplicaSet"}, type_, reason, message
        )

"""The Deployment controller: rolls ReplicaSets toward the Deployment's template.

Handlers only enqueue Deployment keys: a Deployment changed; a ReplicaSet
changed (its controlling Deployment, or for an orphan every Deployment in
the namespace whose selector matches); a pod went away (a Recreate rollout
waits for the old pods to be gone).

A pass (``reconcile``) reads the Deployment and the ReplicaSets of its
namespace from the caches, adopts matching orphan sets and releases owned
ones that stopped matching, asks ``plan_rollout`` for one step, and writes
it: ReplicaSets created, scaled (with a ``ScalingReplicaSet`` event) or
deleted, the Deployment's revision annotation, then its status with
``observedGeneration``. Writes carry the cached resourceVersion, so a stale
cache costs a Conflict and a quiet retry, never a lost update. A name
collision (a ReplicaSet of that name with another template) bumps
``status.collisionCount`` so the next pass hashes to a new name.

While a ReplicaSet's status lags behind its spec (``observedGeneration``),
the plan only refreshes the Deployment's status (see ``rollout``).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj, controller_ref, labels_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.selectors import SelectorError, selector_from_label_selector_object
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, object_key, split_key
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import process_queue
from orchestrator.controllers.ownership import (
    adopt_patch,
    controller_uid,
    owner_reference,
    plan_claims,
    release_patch,
)
from orchestrator.controllers.podtemplate import same_template
from orchestrator.controllers.rollout import (
    CreateReplicaSet,
    DeleteReplicaSet,
    RolloutPlan,
    UpdateReplicaSet,
    plan_rollout,
)

log = logging.getLogger(__name__)


_rt = BUILTIN_TYPES.require
DEPLOYMENTS = _rt("apps", "Deployment")
REPLICASETS = _rt("apps", "ReplicaSet")
PODS = _rt("", "Pod")


@dataclass(frozen=True)
class DeploymentSettings:
    """Nothing to tune yet: the progress deadline is each Deployment's own field."""


class DeploymentController:
    name = "deployment"

    def __init__(self, ctx: ControllerContext, settings: DeploymentSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or DeploymentSettings()
        self.queue = WorkQueue(ctx.backoff, name="deployment")
        self.deployments = ctx.informers.informer(DEPLOYMENTS)
        self.sets = ctx.informers.informer(REPLICASETS)
        self.pods = ctx.informers.informer(PODS)
        self.deployments.add_index("uid", lambda d: [d["metadata"]["uid"]])
        self.sets.add_index("controller", controller_uid)
        self.pods.add_index("controller", controller_uid)
        self.deployments.add_handler(
            Handler(
                on_add=self._enqueue,
                on_update=lambda old, new: self._enqueue(new),
                on_delete=self._enqueue,
            )
        )
        self.sets.add_handler(
            Handler(
                on_add=self._set_changed,
                on_update=self._set_updated,
                on_delete=self._set_changed,
            )
        )
        self.pods.add_handler(Handler(on_delete=self._pod_deleted))

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    # -- handlers: only enqueue -------------------------------------------------

    def _enqueue(self, deployment: Obj) -> None:
        self.queue.add(object_key(deployment))

    def _owner(self, obj: Obj, kind: str) -> Obj | None:
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != kind:
            return None
        if kind == "Deployment":
            owners = self.deployments.by_index("uid", str(ref.get("uid")))
            return owners[0] if owners else None
        rs = self.sets.get_by_name(obj["metadata"].get("namespace", ""), str(ref.get("name")))
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return None
        return rs

    def _set_changed(self, rs: Obj) -> None:
        owner = self._owner(rs, "Deployment")
        if owner is not None:
            self._enqueue(owner)
        elif controller_ref(rs) is None:
            labels = labels_of(rs)
            for d in self.deployments.list(rs["metadata"].get("namespace", "")):
                try:
                    selector = selector_from_label_selector_object(d["spec"].get("selector"))
                except (SelectorError, KeyError):
                    continue
                if not selector.empty and selector.matches(labels):
                    self._enqueue(d)

    def _set_updated(self, old: Obj, new: Obj) -> None:
        if controller_ref(old) != controller_ref(new):
            self._set_changed(old)
        self._set_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        rs = self._owner(pod, "ReplicaSet")
        if rs is not None:
            self._set_changed(rs)

    # -- one pass ---------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        d = self.deployments.get(key)
        if d is None:
            return None
        namespace, _ = split_key(key)
        try:
            selector = selector_from_label_selector_object(d.get("spec", {}).get("selector"))
        except SelectorError as exc:
            log.warning("deployment %s has an invalid selector: %s", key, exc)
            return None
        uid = d["metadata"]["uid"]
        deleting = bool(d["metadata"].get("deletionTimestamp"))
        claims = plan_claims(
            uid, selector, self.sets.list(namespace), can_adopt=not deleting and not selector.empty
        )
        ref = owner_reference(d, "apps/v1", "Deployment")
        for rs in claims.adopt:
            await self._patch_set(rs, adopt_patch(rs, ref))
        for rs in claims.release:
            await self._patch_set(rs, release_patch(rs, uid))
        if claims.adopt or claims.release:
            return None  # the patched sets come back through the cache and enqueue us
        sets = list(claims.owned)
        plan = plan_rollout(d, sets, self.ctx.clock(), old_pods_running=self._old_pods(d, sets))
        d = await self._apply(d, plan)
        await self._write_status(d, plan.status)
        return plan.requeue_after

    def _old_pods(self, d: Obj, sets: list[Obj]) -> int:
        template = d.get("spec", {}).get("template")
        count = 0
        for rs in sets:
            if same_template(rs.get("spec", {}).get("template"), template):
                continue
            for pod in self.pods.by_index("controller", rs["metadata"]["uid"]):
                if pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                    count += 1
        return count

    async def _apply(self, d: Obj, plan: RolloutPlan) -> Obj:
        namespace = d["metadata"]["namespace"]
        for action in plan.actions:
            if isinstance(action, CreateReplicaSet):
                await self._create_set(d, action.replica_set)
            elif isinstance(action, UpdateReplicaSet):
                await self._update_set(d, namespace, action)
            elif isinstance(action, DeleteReplicaSet):
                try:
                    await self.ctx.client.delete(
                        REPLICASETS, action.name, namespace, propagation_policy="Background"
                    )
                except errors.NotFound:
                    pass
        if plan.annotations is not None:
            body = copy.deepcopy(d)
            body["metadata"]["annotations"] = plan.annotations
            d = await self.ctx.client.replace(DEPLOYMENTS, body, namespace)
        return d

    async def _create_set(self, d: Obj, rs: Obj) -> None:
        namespace = d["metadata"]["namespace"]
        try:
            created = await self.ctx.client.create(REPLICASETS, rs, namespace)
        except errors.AlreadyExists:
            existing = await self.ctx.client.get(REPLICASETS, rs["metadata"]["name"], namespace)
            ref = controller_ref(existing)
            ours = ref is not None and ref.get("uid") == d["metadata"]["uid"]
            if ours and same_template(existing["spec"].get("template"), rs["spec"]["template"]):
                return  # our own, not in the cache yet
            status = dict(d.get("status") or {})
            status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
            await self.ctx.client.replace(
                DEPLOYMENTS, {**d, "status": status}, namespace, subresource="status"
            )
            raise errors.Conflict(
                f'replica set "{rs["metadata"]["name"]}" exists with another template; '
                f"collisionCount is now {status['collisionCount']}"
            ) from None
        replicas = int(created["spec"].get("replicas", 0))
        if replicas > 0:
            await self._emit(
                d,
                "ScalingReplicaSet",
                f"Scaled up replica set {created['metadata']['name']} from 0 to {replicas}",
            )

    async def _update_set(self, d: Obj, namespace: str, action: UpdateReplicaSet) -> None:
        current = self.sets.get_by_name(namespace, action.name)
        if current is None:
            return
        body = copy.deepcopy(current)
        body["metadata"]["annotations"] = dict(action.annotations)
        body["spec"]["replicas"] = action.replicas
        body["spec"]["minReadySeconds"] = action.min_ready_seconds
        await self.ctx.client.replace(REPLICASETS, body, namespace)
        if action.replicas != action.old_replicas:
            way = "up" if action.replicas > action.old_replicas else "down"
            await self._emit(
                d,
                "ScalingReplicaSet",
                f"Scaled {way} replica set {action.name} "
                f"from {action.old_replicas} to {action.replicas}",
            )

    async def _patch_set(self, rs: Obj, patch: Obj) -> None:
        meta = rs["metadata"]
        try:
            await self.ctx.client.patch(REPLICASETS, meta["name"], patch, meta["namespace"])
        except errors.NotFound:
            pass

    async def _write_status(self, d: Obj, status: Obj) -> None:
        if status == d.get("status"):
            return
        try:
            await self.ctx.client.replace(
                DEPLOYMENTS,
                {**d, "status": status},
                d["metadata"]["namespace"],
                subresource="status",
            )
        except errors.NotFound:
            pass

    async def _emit(self, d: Obj, reason: str, message: str) -> None:
        obj = {**d, "apiVersion": "apps/v1", "kind": "Deployment"}
        await self.ctx.recorder.emit(obj, "Normal", reason, message)

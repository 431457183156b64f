"""Node lifecycle: silent nodes become NotReady and tainted; their pods are evicted.

Health is judged like leader election judges a lease: by this controller's
own clock, from the moment it last saw the node's Lease (in
``kube-node-lease``) or the Ready condition's heartbeat change, never by
comparing the node's timestamps with ours, so clock skew between machines
does not matter. A node silent for ``node_monitor_grace_period`` gets every
condition set to Unknown (reason ``NodeStatusUnknown``) and a ``NodeNotReady``
Event. A restarted controller starts each node's observation afresh, which
only delays a verdict by one grace period (Kubernetes does the same).

Taints follow the Ready condition: Unknown -> ``node.kubernetes.io/unreachable``
NoSchedule + NoExecute, False -> ``node.kubernetes.io/not-ready``, True ->
none (so a node that comes back and posts Ready loses them). The NoExecute
taint carries ``timeAdded``, which is stored in the API, so eviction timing
survives a restart. Pods on the node whose ready condition is True are marked
not ready, as Kubernetes does, so endpoints drop them at once.

Eviction (the taint manager): a pod that does not tolerate a NoExecute taint
is deleted at once; one that tolerates it for ``tolerationSeconds`` is
deleted that long after ``timeAdded``; one that tolerates it without a limit
stays. Pods with no toleration of their own for the not-ready/unreachable
taints get ``pod_eviction_timeout`` (Kubernetes' admission gives them 300 s
tolerations). Deletion is an ordinary graceful delete, Event
``TaintManagerEviction``; the ReplicaSet controller replaces the pod.

Two queues: node names (health, conditions, taints) and pod keys (readiness
and eviction). Each worker makes one step and asks to be re-queued when its
next deadline falls.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.api import errors
from orchestrator.api.conditions import (
    Condition,
    condition_of,
    condition_status,
    conditions_of,
    find_condition,
    with_status,
)
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.timestamps import parse_time, rfc3339
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, object_key
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import WorkQueue

log = logging.getLogger(__name__)


_rt = BUILTIN_TYPES.require
NODES = _rt("", "Node")
PODS = _rt("", "Pod")
LEASES = _rt("coordination.k8s.io", "Lease")
LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
BY_NODE = "nodelifecycle/nodeName"


@dataclass(frozen=True)
class NodeLifecycleSettings:
    node_monitor_grace_period: float = 40.0  # silence before a node is NotReady (Kubernetes')
    pod_eviction_timeout: float = 300.0  # default tolerationSeconds for not-ready/unreachable


def ready_status(node: Obj) -> str:
    return condition_status(node, "Ready", "Unknown")


def heartbeat_mark(node: Obj | None, lease: Obj | None) -> tuple[str, str]:
    """What changes when the node is alive: the lease's renewTime, the Ready heartbeat."""
    renew = str(((lease or {}).get("spec") or {}).get("renewTime") or "")
    ready = condition_of(node, "Ready") if node is not None else None
    beat = str((ready or {}).get("lastHeartbeatTime") or "")
    return renew, beat


def unknown_conditions(conditions: list[Condition], now: datetime) -> list[Condition]:
    """Every condition turned Unknown, keeping the last heartbeat; Ready added if missing."""
    stamp = rfc3339(now)
    out = [
        c
        if c.get("status") == "Unknown"
        else with_status(c, "Unknown", stamp, reason=UNKNOWN_REASON, message=UNKNOWN_MESSAGE)
        for c in conditions
    ]
    if find_condition(conditions, "Ready") is None:
        out.append(
            {
                "type": "Ready",
                "status": "Unknown",
                "reason": UNKNOWN_REASON,
                "message": UNKNOWN_MESSAGE,
                "lastTransitionTime": stamp,
                "lastHeartbeatTime": stamp,
            }
        )
    return out


def desired_taints(node: Obj, now: datetime) -> list[Obj]:
    """The node's taints with the not-ready/unreachable ones made to match its Ready status."""
    current = list((node.get("spec") or {}).get("taints") or [])
    key = {"True": None, "False": NOT_READY}.get(ready_status(node), UNREACHABLE)
    kept = [
        t for t in current if t.get("key") not in (UNREACHABLE, NOT_READY) or t.get("key") == key
    ]
    if key is None:
        return kept
    for effect in ("NoSchedule", "NoExecute"):
        if not any(t.get("key") == key and t.get("effect") == effect for t in kept):
            taint: Obj = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = rfc3339(now)
            kept.append(taint)
    return kept


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Kubernetes' ToleratesTaint."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    if not key:
        return False  # an empty key needs Exists
    return (toleration.get("value") or "") == (taint.get("value") or "")


def eviction_delay(
    pod: Obj, taints: list[Obj], now: datetime, default_timeout: float
) -> float | None:
    """Seconds until ``pod`` must go from a node with ``taints``: None = never, <= 0 = now."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    deadlines: list[float] = []
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if matching:
            limits = [t.get("tolerationSeconds") for t in matching]
            if any(limit is None for limit in limits):
                continue  # tolerated forever
            seconds = float(min(max(0, int(x)) for x in limits))
        elif taint.get("key") in (UNREACHABLE, NOT_READY):
            seconds = default_timeout
        else:
            return 0.0
        added = parse_time(taint.get("timeAdded")) or now
        deadlines.append((added + timedelta(seconds=seconds) - now).total_seconds())
    return min(deadlines) if deadlines else None


def pod_is_ready(pod: Obj) -> bool:
    return condition_status(pod, "Ready") == "True"


class NodeLifecycleController:
    name = "nodelifecycle"

    def __init__(
        self, ctx: ControllerContext, settings: NodeLifecycleSettings | None = None
    ) -> None:
        self.ctx = ctx
        self.settings = settings or NodeLifecycleSettings()
        self.node_queue = WorkQueue(ctx.backoff, name="node_lifecycle_controller")
        self.pod_queue = WorkQueue(ctx.backoff, name="node_lifecycle_controller_pods")
        self.nodes = ctx.informers.informer(NODES)
        self.leases = ctx.informers.informer(LEASES, namespace=LEASE_NAMESPACE)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_index(BY_NODE, _pod_node)
        self.nodes.add_handler(_handler(self._on_node))
        self.leases.add_handler(
            _handler(lambda lease: self.node_queue.add(lease["metadata"]["name"]))
        )
        self.pods.add_handler(_handler(self._on_pod))
        # node name -> (heartbeat mark, when this controller saw it change)
        self._observed: dict[str, tuple[tuple[str, str], datetime]] = {}

    def _on_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        self.node_queue.add(name)
        for pod in self.pods.by_index(BY_NODE, name):
            self.pod_queue.add(object_key(pod))

    def _on_pod(self, pod: Obj) -> None:
        if _pod_node(pod):
            self.pod_queue.add(object_key(pod))

    async def run(self) -> None:
        workers = self.ctx.workers
        async with asyncio.TaskGroup() as tg:
            tg.create_task(
                run_workers(
                    self.node_queue, self.reconcile_node, workers=workers, name=f"{self.name} nodes"
                )
            )
            tg.create_task(
                run_workers(
                    self.pod_queue, self.reconcile_pod, workers=workers, name=f"{self.name} pods"
                )
            )

    # -- nodes ------------------------------------------------------------------

    def silence(self, name: str, node: Obj) -> float:
        """Seconds since this controller last saw the node show a sign of life."""
        now = self.ctx.clock()
        mark = heartbeat_mark(node, self.leases.get_by_name(LEASE_NAMESPACE, name))
        seen = self._observed.get(name)
        if seen is None or seen[0] != mark:
            self._observed[name] = (mark, now)
            return 0.0
        return (now - seen[1]).total_seconds()

    async def reconcile_node(self, name: str) -> float | None:
        node = self.nodes.get(name)
        if node is None:
            self._observed.pop(name, None)
            return None
        now = self.ctx.clock()
        grace = self.settings.node_monitor_grace_period
        silent_for = self.silence(name, node)
        if silent_for >= grace and ready_status(node) != "Unknown":
            updated = copy.deepcopy(node)
            status = updated.setdefault("status", {})
            status["conditions"] = unknown_conditions(conditions_of(updated), now)
            await self.ctx.client.replace(NODES, updated, subresource="status")
            await self.ctx.recorder.emit(
                node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady"
            )
            log.info("node %s: no heartbeat for %.1fs; NotReady", name, silent_for)
            return None
        taints = desired_taints(node, now)
        if taints != list((node.get("spec") or {}).get("taints") or []):
            patch: Obj = {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                "spec": {"taints": taints or None},
            }
            await self.ctx.client.patch(NODES, name, patch)
            return None
        return max(0.05, grace - silent_for) if silent_for < grace else None

    # -- pods -------------------------------------------------------------------

    async def reconcile_pod(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return None
        node = self.nodes.get(_pod_node(pod)[0]) if _pod_node(pod) else None
        if node is None:
            return None
        if ready_status(node) != "True" and pod_is_ready(pod):
            await self._mark_not_ready(pod)
            return None
        taints = (node.get("spec") or {}).get("taints") or []
        delay = eviction_delay(pod, taints, self.ctx.clock(), self.settings.pod_eviction_timeout)
        if delay is None:
            return None
        if delay > 0:
            return delay
        meta = pod["metadata"]
        await self.ctx.recorder.emit(
            pod,
            "Normal",
            "TaintManagerEviction",
            f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
        )
        try:
            await self.ctx.client.delete(PODS, meta["name"], meta["namespace"])
        except errors.NotFound:
            pass
        return None

    async def _mark_not_ready(self, pod: Obj) -> None:
        updated = copy.deepcopy(pod)
        stamp = rfc3339(self.ctx.clock())
        updated["status"]["conditions"] = [
            with_status(c, "False", stamp) if c.get("type") == "Ready" else c
            for c in conditions_of(updated)
        ]
        try:
            await self.ctx.client.replace(
                PODS, updated, pod["metadata"]["namespace"], subresource="status"
            )
        except errors.NotFound:
            pass


def _pod_node(pod: Obj) -> list[str]:
    name = (pod.get("spec") or {}).get("nodeName")
    return [name] if name else []


def _handler(fn: Callable[[Obj], None]) -> Handler:
    return Handler(fn, lambda _old, new: fn(new), fn)

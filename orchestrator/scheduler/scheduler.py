"""The scheduler: a node for every pending pod, bound through ``pods/{name}/binding``.

Shape (kube-scheduler's, on our controller machinery):

- Informers on Nodes and Pods feed the ``SchedulerCache`` and enqueue the
  keys of pods that are ours to place: no ``spec.nodeName``, our scheduler
  name (or none), not being deleted, not finished.
- ``parallelism`` workers take keys. A worker reads the pod from the cache,
  decides (``place_pod``: filter, score, pick) and *assumes* the pod onto the
  chosen node with no ``await`` in between, so decisions are serial and
  each sees the ones before it; only the binding request runs concurrently,
  at most ``parallelism`` in flight. No API read happens per pod.
- A failed binding drops the assumption and re-queues the pod with backoff;
  a 409 (someone bound it already, or our earlier attempt did and its answer
  was lost) re-queues it too, and the next pass finds it bound and stops.
- A pod that fits nowhere stays Pending: a ``FailedScheduling`` Warning
  Event and a ``PodScheduled=False`` condition (reason ``Unschedulable``)
  say why, per node class. It waits in the unschedulable set and is tried
  again when something could have made room (a node added or changed in a
  way filters see, a bound pod deleted or finished), no sooner than its
  per-pod backoff (``initial_backoff`` doubling to ``max_backoff``), and in
  any case every ``unschedulable_retry``.
- Events are written by a few background workers from a bounded backlog,
  off the binding path; when the backlog is full new Events are dropped
  (client-go's broadcaster does the same), never the scheduling.

A restarted scheduler rebuilds everything from the API: bound pods count
against their nodes from the first list, pending pods are queued again.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from orchestrator.api import errors
from orchestrator.api.conditions import condition_of, updated_condition
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, object_key
from orchestrator.client.rest import resource_path
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import WorkQueue
from orchestrator.scheduler import metrics as prom
from orchestrator.scheduler.cache import TERMINAL_PHASES, SchedulerCache
from orchestrator.scheduler.placement import Placement, place_pod
from orchestrator.scheduler.podinfo import pod_info
from orchestrator.scheduler.scoring import ScoreWeights

log = logging.getLogger(__name__)
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
NODES = BUILTIN_TYPES.by_group_kind("", "Node")


@dataclass(frozen=True)
class SchedulerSettings:
    scheduler_name: str = "default-scheduler"  # pods naming another scheduler are left alone
    parallelism: int = 64  # pods being bound at once; decisions stay serial
    initial_backoff: float = 1.0  # kube-scheduler's podInitialBackoffSeconds
    max_backoff: float = 10.0  # ... and podMaxBackoffSeconds
    unschedulable_retry: float = 60.0  # retry an unschedulable pod even if nothing seemed to change
    weights: ScoreWeights = field(default_factory=ScoreWeights)


@dataclass
class SchedulerMetrics:
    """Counters a benchmark or a test can read."""

    scheduled: int = 0  # pods bound
    unschedulable: int = 0  # attempts that found no node
    bind_errors: int = 0  # binding requests that failed
    deciding_seconds: float = 0.0  # time spent filtering and scoring


@dataclass(frozen=True)
class _Unschedulable:
    attempts: int
    retry_at: float  # monotonic time before which a cluster change does not retry it


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Scheduler:
    name = "scheduler"

    def __init__(
        self,
        ctx: ControllerContext,
        settings: SchedulerSettings | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        assert PODS is not None and NODES is not None
        self.ctx = ctx
        self.settings = settings or SchedulerSettings()
        self.cache = SchedulerCache()
        self.queue = WorkQueue(ctx.backoff, name="scheduler")
        self.metrics = SchedulerMetrics()
        profile = self.settings.scheduler_name
        self._attempts = {  # result -> (attempts counter, duration histogram): Prometheus
            result: (
                prom.ATTEMPTS.labels(result, profile),
                prom.ATTEMPT_DURATION.labels(result, profile),
            )
            for result in ("scheduled", "unschedulable", "error")
        }
        prom.report_pending(self, self._pending)
        self._rng = rng or random.Random()
        self._unschedulable: dict[str, _Unschedulable] = {}
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        self.nodes.add_handler(
            Handler(
                on_add=self._node_changed,
                on_update=lambda _old, new: self._node_changed(new),
                on_delete=lambda node: self.cache.remove_node(node["metadata"]["name"]),
            )
        )
        self.pods.add_handler(
            Handler(
                on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
            )
        )

    # -- informer handlers: cache bookkeeping and enqueueing only -------------

    def _node_changed(self, node: Obj) -> None:
        if self.cache.set_node(node):
            self._retry_unschedulable()

    def _pod_added(self, pod: Obj) -> None:
        if self.cache.observe_pod(pod):
            self._retry_unschedulable()
        if self.wants(pod):
            self.queue.add(object_key(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if self.cache.observe_pod(new):
            self._retry_unschedulable()
        if not self.wants(new):
            return
        key = object_key(new)
        if key not in self._unschedulable or old.get("spec") != new.get("spec"):
            self.queue.add(key)
        elif old["metadata"].get("labels") != new["metadata"].get("labels"):
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        self._unschedulable.pop(object_key(pod), None)
        if self.cache.remove_pod(str(pod["metadata"].get("uid", ""))):
            self._retry_unschedulable()

    def _retry_unschedulable(self) -> None:
        now = time.monotonic()
        for key, state in self._unschedulable.items():
            self.queue.add_after(key, state.retry_at - now)

    # -- deciding ------------------------------------------------------------

    def wants(self, pod: Obj) -> bool:
        """Is this pod ours to place?"""
        spec = pod.get("spec") or {}
        return (
            not spec.get("nodeName")
            and spec.get("schedulerName", "") in ("", self.settings.scheduler_name)
            and not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
        )

    def _pending(self) -> dict[str, int]:
        return {"active": len(self.queue), "unschedulable": len(self._unschedulable)}

    async def schedule_one(self, key: str) -> float | None:
        """Place the pod ``key`` names, or say why it cannot be placed; each attempt counted."""
        started = time.perf_counter()
        before = (self.metrics.scheduled, self.metrics.unschedulable)
        result = ""
        try:
            retry = await self._schedule_one(key)
            if self.metrics.scheduled != before[0]:
                result = "scheduled"
            elif self.metrics.unschedulable != before[1]:
                result = "unschedulable"
            return retry
        except Exception:
            result = "error"
            raise
        finally:
            if result:  # a pod gone, bound or already assumed was no attempt
                count, duration = self._attempts[result]
                count.inc()
                duration.observe(time.perf_counter() - started)

    async def _schedule_one(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or not self.wants(pod):
            self._unschedulable.pop(key, None)
            return None
        info = pod_info(pod)
        if self.cache.placed(info.uid):
            return None  # assumed: our binding is in flight or done
        started = time.perf_counter()
        placement = place_pod(
            info,
            self.cache.nodes(),
            partial(self.cache.siblings, info.owner_uid),
            self._rng,
            self.settings.weights,
        )
        self.metrics.deciding_seconds += time.perf_counter() - started
        if not placement.node:
            return await self._cannot_place(key, pod, placement)
        self.cache.assume(info, placement.node)
        self._unschedulable.pop(key, None)
        try:
            await self.bind(pod, placement.node)
        except BaseException as exc:
            self.cache.forget(info.uid)
            if isinstance(exc, errors.NotFound):
                return None  # deleted meanwhile
            if isinstance(exc, errors.APIError):
                self.metrics.bind_errors += 1
            raise
        self.metrics.scheduled += 1
        meta = pod["metadata"]
        self.record(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {placement.node}",
        )
        return None

    async def bind(self, pod: Obj, node: str) -> None:
        """POST the Binding that sets ``spec.nodeName`` (409 if the pod is bound already)."""
        assert PODS is not None
        meta = pod["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        await self.ctx.client.request(
            "POST",
            resource_path(PODS, meta["namespace"], meta["name"], "binding"),
            json_body=body,
        )

    async def _cannot_place(self, key: str, pod: Obj, placement: Placement) -> float:
        previous = self._unschedulable.get(key)
        attempts = previous.attempts + 1 if previous else 1
        backoff = min(
            self.settings.max_backoff, self.settings.initial_backoff * 2 ** (attempts - 1)
        )
        self._unschedulable[key] = _Unschedulable(attempts, time.monotonic() + backoff)
        self.metrics.unschedulable += 1
        message = placement.message
        self.record(pod, "Warning", "FailedScheduling", message)
        await self._mark_unschedulable(pod, message)
        return self.settings.unschedulable_retry

    async def _mark_unschedulable(self, pod: Obj, message: str) -> None:
        """Set PodScheduled=False on the pod, unless it already says exactly this."""
        assert PODS is not None
        current = condition_of(pod, "PodScheduled")
        if (
            current is not None
            and current.get("status") == "False"
            and current.get("reason") == "Unschedulable"
            and current.get("message") == message
        ):
            return
        condition = updated_condition(
            current,
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": _now(),
            },
        )
        meta = pod["metadata"]
        try:
            await self.ctx.client.patch(
                PODS,
                meta["name"],
                {"status": {"conditions": [condition]}},
                meta["namespace"],
                patch_type="application/strategic-merge-patch+json",
                subresource="status",
            )
        except errors.NotFound:
            pass

    # -- events --------------------------------------------------------------

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """An Event, written in the background off the binding path (see EventRecorder)."""
        self.ctx.recorder.record(obj, type_, reason, message)

    # -- running -------------------------------------------------------------

    async def run(self) -> None:
        """Schedule until cancelled."""
        await run_workers(
            self.queue, self.schedule_one, workers=self.settings.parallelism, name="scheduler"
        )

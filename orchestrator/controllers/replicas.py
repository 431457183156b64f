"""What a ReplicaSet should do about its pods: a pure decision, tested with tables.

``plan_replicas(rs, pods, now)`` takes the pods the set controls (claimed
already) and returns how many to create, which to delete and the status to
report. Pods that are terminating or finished do not count, as in
Kubernetes: a replacement is created as soon as a pod starts to terminate.

Scale-down removes the least valuable pods first, in Kubernetes' order:
unscheduled before scheduled, Pending before Unknown before Running, not
ready before ready, ready for less time before longer, more container
restarts before fewer, newer before older. ``burst`` bounds the creations
or deletions of one pass, so a set of 1,000 replicas grows in steps that
the API server and the watchers can follow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.api.conditions import condition_of, condition_status
from orchestrator.api.objects import Obj, labels_of, metadata_of
from orchestrator.api.selectors import selector_from_labels
from orchestrator.api.timestamps import parse_time

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


@dataclass(frozen=True)
class ReplicaPlan:
    create: int  # pods to create from the template
    delete: tuple[Obj, ...]  # pods to delete, least valuable first
    status: Obj  # the ReplicaSet status to report
    requeue_after: float | None  # seconds until a ready pod becomes available


def is_active(pod: Obj) -> bool:
    """Counts toward replicas: not terminating, not Succeeded or Failed."""
    if metadata_of(pod).get("deletionTimestamp"):
        return False
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


def is_pod_ready(pod: Obj) -> bool:
    return condition_status(pod, "Ready") == "True"


def ready_since(pod: Obj) -> datetime | None:
    ready = condition_of(pod, "Ready")
    if ready is None or ready.get("status") != "True":
        return None
    return parse_time(ready.get("lastTransitionTime"))


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds``."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + timedelta(seconds=min_ready_seconds) <= now


def _restarts(pod: Obj) -> int:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _stamp(text: str | None) -> float:
    when = parse_time(text)
    return when.timestamp() if when else float("-inf")


def deletion_order(pod: Obj) -> tuple[Any, ...]:
    """Sort key: the pod to delete first sorts first."""
    ready = is_pod_ready(pod)
    since = ready_since(pod) if ready else None
    meta = metadata_of(pod)
    created = meta.get("creationTimestamp")
    return (
        1 if pod.get("spec", {}).get("nodeName") else 0,
        _PHASE_RANK.get(pod.get("status", {}).get("phase", "Pending"), 0),
        1 if ready else 0,
        -since.timestamp() if since else 0.0,
        -_restarts(pod),
        -_stamp(created) if created else float("-inf"),
        meta.get("name", ""),
    )


def replicaset_status(rs: Obj, pods: Sequence[Obj], now: datetime) -> Obj:
    """Status from the set's active pods; zero counts are omitted except ``replicas``."""
    spec = rs.get("spec", {})
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = labels_of(spec.get("template", {}))
    template_selector = selector_from_labels(template_labels)
    active = [p for p in pods if is_active(p)]
    status: Obj = {"replicas": len(active)}
    counts = {
        "fullyLabeledReplicas": sum(1 for p in active if template_selector.matches(labels_of(p))),
        "readyReplicas": sum(1 for p in active if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in active if is_pod_available(p, min_ready, now)),
    }
    status.update({k: v for k, v in counts.items() if v})
    status["observedGeneration"] = metadata_of(rs).get("generation", 0)
    conditions = rs.get("status", {}).get("conditions")
    if conditions:
        status["conditions"] = conditions
    return status


def _next_available(pods: Sequence[Obj], min_ready: int, now: datetime) -> float | None:
    waits = [
        (since + timedelta(seconds=min_ready) - now).total_seconds()
        for p in pods
        if is_active(p)
        and (since := ready_since(p)) is not None
        and not is_pod_available(p, min_ready, now)
    ]
    return max(0.05, min(waits)) if waits else None


def plan_replicas(
    rs: Obj, pods: Sequence[Obj], now: datetime, *, manage: bool = True, burst: int = 500
) -> ReplicaPlan:
    """Creations and deletions that bring ``pods`` to ``spec.replicas``, and the status."""
    spec = rs.get("spec", {})
    wanted = int(spec.get("replicas", 1))
    active = [p for p in pods if is_active(p)]
    create = 0
    delete: tuple[Obj, ...] = ()
    if manage and not metadata_of(rs).get("deletionTimestamp"):
        diff = len(active) - wanted
        if diff < 0:
            create = min(-diff, burst)
        elif diff > 0:
            delete = tuple(sorted(active, key=deletion_order)[: min(diff, burst)])
    requeue = None
    min_ready = int(spec.get("minReadySeconds") or 0)
    if min_ready > 0:
        requeue = _next_available(active, min_ready, now)
    return ReplicaPlan(create, delete, replicaset_status(rs, pods, now), requeue)


def slow_start_batches(count: int, initial: int = 1) -> Iterator[int]:
    """Batch sizes 1, 2, 4, ... summing to ``count``: a failing create stops early."""
    size = max(1, initial)
    remaining = count
    while remaining > 0:
        batch = min(size, remaining)
        yield batch
        remaining -= batch
        size *= 2

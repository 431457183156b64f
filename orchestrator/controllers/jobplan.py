"""What a Job needs next: ``plan_job(job, pods, now, settings) -> JobPlan``, no I/O.

The plan is computed afresh from the Job and its pods on every pass, so a
controller that was killed half-way simply plans again:

- Counts: ``succeeded`` and ``failed`` are the larger of what the status
  already says and the finished pods that exist (finished pods are kept
  until the Job goes, so nothing is counted twice and nothing is lost when
  the pod cache is a step behind). Pods terminating, or deleted while
  running, are not counted: they are replaced (podReplacementPolicy
  TerminatingOrFailed, Kubernetes' default).
- Failure comes first: more failed pods than ``backoffLimit`` ends the Job
  with condition Failed, reason BackoffLimitExceeded; running longer than
  ``activeDeadlineSeconds`` since ``startTime`` ends it with DeadlineExceeded.
  Either way its running pods are deleted.
- Success: ``succeeded >= completions`` (or, with completions unset, the
  work-queue rule: some pod succeeded and none is running) sets Complete and
  ``completionTime`` and deletes any extra running pods.
- Otherwise it keeps ``min(parallelism, completions - succeeded)`` pods
  running. After failures, new pods wait Kubernetes' exponential backoff:
  ``base * 2**(failures since the last success - 1)``, capped, counted from
  the last failure; the plan says how long to wait instead of creating.
- Pod names are ``{job}-{uid[:5]}-{n}`` with the lowest ordinals not yet
  used, so that a pass working from a stale cache repeats a create that
  already happened and gets 409, instead of running one pod too many.
- A finished Job with ``ttlSecondsAfterFinished`` is deleted that long after
  it finished; until then the plan asks to be woken when the TTL ends.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.api.conditions import Condition, condition_status, conditions_of, set_condition
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.timestamps import parse_time, rfc3339
from orchestrator.controllers.batchjobs import finish_time, job_finished

TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class JobSettings:
    backoff_base: float = 10.0  # first wait before replacing a failed pod (Kubernetes: 10 s)
    backoff_cap: float = 360.0  # the doubling stops here (Kubernetes: 6 min)


@dataclass(frozen=True)
class JobEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class JobPlan:
    create: tuple[str, ...] = ()  # names of pods to create
    delete: tuple[str, ...] = ()  # names of running pods to delete
    status: Obj | None = None  # the new status, when it differs from the stored one
    events: tuple[JobEvent, ...] = ()
    requeue_after: float | None = None  # seconds until a timer (backoff, deadline, TTL) is due
    delete_job: bool = False  # the TTL after finishing has passed


def pod_finished_at(pod: Obj) -> datetime | None:
    """When a finished pod ended: its last container termination, else its last change."""
    status = pod.get("status") or {}
    times = [
        parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        for cs in status.get("containerStatuses") or []
    ]
    found = [t for t in times if t is not None]
    if found:
        return max(found)
    conds = [parse_time(c.get("lastTransitionTime")) for c in conditions_of(pod)]
    known = [t for t in conds if t is not None]
    if known:
        return max(known)
    return parse_time(status.get("startTime")) or parse_time(
        metadata_of(pod).get("creationTimestamp")
    )


def backoff_delay(failures: int, settings: JobSettings) -> float:
    """Seconds to wait before a new pod after ``failures`` failures in a row."""
    if failures <= 0:
        return 0.0
    return min(settings.backoff_cap, settings.backoff_base * 2 ** min(failures - 1, 32))


def pod_name_prefix(job: Obj) -> str:
    meta = job["metadata"]
    return f"{meta['name']}-{str(meta.get('uid', ''))[:5]}-"


def plan_job(job: Obj, pods: list[Obj], now: datetime, settings: JobSettings) -> JobPlan:
    """The next step for ``job`` given the pods it controls (see the module docstring)."""
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    active = [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") not in TERMINAL
        and not p["metadata"].get("deletionTimestamp")
    ]
    succeeded_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
    failed_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
    succeeded = max(int(status.get("succeeded") or 0), len(succeeded_pods))
    failed = max(int(status.get("failed") or 0), len(failed_pods))

    if job_finished(job):
        return _finished(job, status, active, succeeded, failed, now)

    new_status = copy.deepcopy(status)
    suspended = bool(spec.get("suspend"))
    start = parse_time(status.get("startTime"))
    if start is None and not suspended:
        start = now
        new_status["startTime"] = rfc3339(now)

    failure = _failure(spec, failed, start, now)
    if failure is not None:
        reason, message = failure
        _add_condition(new_status, "Failed", reason, message, now)
        return _finish_plan(
            job, new_status, active, succeeded, failed, JobEvent("Warning", reason, message)
        )

    completions = spec.get("completions")
    if completions is not None:
        done = succeeded >= int(completions)
    else:
        done = succeeded > 0 and not active
    if done:
        _add_condition(new_status, "Complete", "", "", now)
        new_status["completionTime"] = rfc3339(now)
        return _finish_plan(
            job,
            new_status,
            active,
            succeeded,
            failed,
            JobEvent("Normal", "Completed", "Job completed"),
        )

    parallelism = int(spec.get("parallelism", 1) or 0)
    if suspended:
        want = 0
    elif completions is not None:
        want = min(parallelism, int(completions) - succeeded)
    else:  # work queue: after a success no new pods, and the running ones finish their share
        want = min(len(active), parallelism) if succeeded else parallelism

    create: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    waits: list[float] = []
    if len(active) > want:
        delete = tuple(p["metadata"]["name"] for p in _least_valuable(active)[: len(active) - want])
    elif len(active) < want:
        wait = _backoff_left(succeeded_pods, failed_pods, now, settings)
        if wait > 0:
            waits.append(wait)
        else:
            create = _new_names(job, pods, want - len(active))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and start is not None:
        waits.append((start + timedelta(seconds=int(deadline)) - now).total_seconds())

    _set_counts(new_status, len(active) + len(create) - len(delete), succeeded, failed, active)
    return JobPlan(
        create=create,
        delete=delete,
        status=new_status if new_status != status else None,
        requeue_after=max(0.0, min(waits)) if waits else None,
    )


def _failure(
    spec: Obj, failed: int, start: datetime | None, now: datetime
) -> tuple[str, str] | None:
    if failed > int(spec.get("backoffLimit", 6)):
        return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and start is not None:
        if (now - start).total_seconds() >= int(deadline):
            return "DeadlineExceeded", "Job was active longer than specified deadline"
    return None


def _finish_plan(
    job: Obj, new_status: Obj, active: list[Obj], succeeded: int, failed: int, event: JobEvent
) -> JobPlan:
    _set_counts(new_status, 0, succeeded, failed, [])
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    return JobPlan(
        delete=tuple(p["metadata"]["name"] for p in active),
        status=new_status,
        events=(event,),
        requeue_after=float(ttl) if ttl is not None else None,
    )


def _finished(
    job: Obj, status: Obj, active: list[Obj], succeeded: int, failed: int, now: datetime
) -> JobPlan:
    new_status = copy.deepcopy(status)
    _set_counts(new_status, 0, succeeded, failed, [])
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    requeue: float | None = None
    expired = False
    if ttl is not None:
        done = finish_time(job) or now
        left = (done + timedelta(seconds=int(ttl)) - now).total_seconds()
        expired = left <= 0
        requeue = None if expired else left
    return JobPlan(
        delete=tuple(p["metadata"]["name"] for p in active),
        status=new_status if new_status != status else None,
        requeue_after=requeue,
        delete_job=expired,
    )


def _set_counts(status: Obj, active: int, succeeded: int, failed: int, pods: list[Obj]) -> None:
    for key, value in (("active", active), ("succeeded", succeeded), ("failed", failed)):
        if value:
            status[key] = value
        else:
            status.pop(key, None)
    status["ready"] = sum(1 for p in pods if _ready(p))


def _ready(pod: Obj) -> bool:
    return condition_status(pod, "Ready") == "True"


def _add_condition(status: Obj, type_: str, reason: str, message: str, now: datetime) -> None:
    cond: Condition = {
        "type": type_,
        "status": "True",
        "lastProbeTime": rfc3339(now),
        "lastTransitionTime": rfc3339(now),
    }
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    status["conditions"] = set_condition(status.get("conditions"), cond)


def _least_valuable(pods: list[Obj]) -> list[Obj]:
    """Unscheduled first, then not running, then the newest."""

    def rank(p: Obj) -> tuple[bool, bool]:
        return (
            bool((p.get("spec") or {}).get("nodeName")),
            (p.get("status") or {}).get("phase") == "Running",
        )

    newest_first = sorted(
        pods, key=lambda p: str(p["metadata"].get("creationTimestamp", "")), reverse=True
    )
    return sorted(newest_first, key=rank)  # stable: newest first within a rank


def _backoff_left(
    succeeded: list[Obj], failed: list[Obj], now: datetime, settings: JobSettings
) -> float:
    last_success = max((t for t in map(pod_finished_at, succeeded) if t), default=None)
    failures = [
        t for t in map(pod_finished_at, failed) if t and (last_success is None or t > last_success)
    ]
    if not failures:
        return 0.0
    due = max(failures) + timedelta(seconds=backoff_delay(len(failures), settings))
    return (due - now).total_seconds()


def _new_names(job: Obj, pods: list[Obj], count: int) -> tuple[str, ...]:
    prefix = pod_name_prefix(job)
    used = set()
    for p in pods:
        name = p["metadata"]["name"]
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            used.add(int(name[len(prefix) :]))
    names: list[str] = []
    n = 0
    while len(names) < count:
        if n not in used:
            names.append(f"{prefix}{n}")
        n += 1
    return tuple(names)

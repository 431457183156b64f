"""What a CronJob needs next: ``plan_cronjob(cronjob, jobs, now, settings)``, no I/O.

Computed afresh on every pass from the CronJob and the Jobs it controls:

1. Status: ``active`` lists its unfinished Jobs; ``lastSuccessfulTime`` is
   the latest completion seen; a Job that left ``active`` finished is
   reported once (SawCompletedJob).
2. History: finished Jobs beyond ``successfulJobsHistoryLimit`` /
   ``failedJobsHistoryLimit`` are deleted, oldest first.
3. Unless suspended, the schedule is parsed (UTC only; a bad one is a
   Warning Event and no timer) and the most recent scheduled time after
   ``lastScheduleTime`` (else the CronJob's creation) up to ``now`` is taken.
   Older ones are skipped, as in Kubernetes. With ``startingDeadlineSeconds``
   a time later than that is too late: Warning MissSchedule, nothing runs.
   More than ``missed_warning`` missed times: Warning TooManyMissedTimes.
4. The Job for that time is named ``{cronjob}-{minutes since the epoch}``,
   so creating it twice is a 409, never a second run. ``concurrencyPolicy``
   decides with Jobs still active: Allow runs alongside, Forbid skips
   (JobAlreadyActive, and the time stays pending until they finish, if its
   starting deadline allows), Replace deletes them first.
5. The plan asks to be woken at the next scheduled time, but never later
   than ``check_interval``: the clock is injected (tests move it) and a
   wall clock can jump, so the controller looks again regularly.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

from orchestrator.api.objects import Obj, annotations_of, metadata_of
from orchestrator.api.timestamps import parse_time, rfc3339
from orchestrator.controllers.batchjobs import finish_time, job_finished
from orchestrator.controllers.cron import (
    CronSyntaxError,
    Schedule,
    next_schedule_times,
    parse_schedule,
)
from orchestrator.controllers.ownership import owner_reference

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


@dataclass(frozen=True)
class CronJobSettings:
    check_interval: float = 10.0  # longest wait between looks (clock jumps; Kubernetes v1: 10 s)
    missed_warning: int = 100  # missed start times beyond this get a Warning (Kubernetes: 100)


@dataclass(frozen=True)
class CronEvent:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class CronJobPlan:
    create: Obj | None = None  # the Job to create
    delete: tuple[str, ...] = ()  # names of Jobs to delete (Replace, then history)
    status: Obj | None = None  # the new status, when it differs
    events: tuple[CronEvent, ...] = ()
    requeue_after: float | None = None


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def job_reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
    }


def build_job(cronjob: Obj, scheduled: datetime) -> Obj:
    """The Job for one scheduled time, from the CronJob's jobTemplate."""
    template = copy.deepcopy((cronjob.get("spec") or {}).get("jobTemplate") or {})
    tmeta = metadata_of(template)
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_ANNOTATION] = rfc3339(scheduled)
    meta: Obj = {
        "name": job_name(cronjob, scheduled),
        "namespace": cronjob["metadata"].get("namespace", ""),
        "annotations": annotations,
        "ownerReferences": [owner_reference(cronjob, "batch/v1", "CronJob")],
    }
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": template.get("spec") or {},
    }


def plan_cronjob(
    cronjob: Obj, jobs: list[Obj], now: datetime, settings: CronJobSettings
) -> CronJobPlan:
    """The next step for ``cronjob`` given the Jobs it controls (module docstring)."""
    spec = cronjob.get("spec") or {}
    status = cronjob.get("status") or {}
    new_status = copy.deepcopy(status)
    events: list[CronEvent] = []
    live = [j for j in jobs if not j["metadata"].get("deletionTimestamp")]
    active = sorted((j for j in live if not job_finished(j)), key=lambda j: j["metadata"]["name"])
    was_active = {r.get("name") for r in status.get("active") or []}
    for job in live:
        outcome = job_finished(job)
        if outcome and job["metadata"]["name"] in was_active:
            events.append(
                CronEvent(
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, status: {outcome}",
                )
            )
        # A Job it made says when it was scheduled: if the status write after creating it
        # was lost (a conflict, a crash), the next pass still records that time.
        scheduled = parse_time(annotations_of(job).get(SCHEDULED_ANNOTATION))
        last_run = parse_time(new_status.get("lastScheduleTime"))
        if scheduled and (last_run is None or scheduled > last_run):
            new_status["lastScheduleTime"] = rfc3339(scheduled)
        done = finish_time(job)
        last_ok = parse_time(new_status.get("lastSuccessfulTime"))
        if outcome == "Complete" and done and (last_ok is None or done > last_ok):
            new_status["lastSuccessfulTime"] = rfc3339(done)
    delete = _history_to_prune(spec, live)
    for name in delete:
        events.append(CronEvent("Normal", "SuccessfulDelete", f"Deleted job {name}"))

    create: Obj | None = None
    requeue: float | None = None
    if not spec.get("suspend"):
        try:
            schedule = parse_schedule(str(spec.get("schedule", "")), spec.get("timeZone"))
        except CronSyntaxError as exc:
            reason = "UnknownTimeZone" if "time zone" in str(exc) else "UnparseableSchedule"
            events.append(
                CronEvent(
                    "Warning", reason, f"unparseable schedule: {spec.get('schedule')!r} : {exc}"
                )
            )
            schedule = None
        if schedule is not None:
            create, replaced = _decide_run(cronjob, schedule, active, live, now, settings, events)
            if create is not None:
                new_status["lastScheduleTime"] = create["metadata"]["annotations"][
                    SCHEDULED_ANNOTATION
                ]
                active = [j for j in active if j["metadata"]["name"] not in replaced]
                delete = [*replaced, *delete]
            requeue = _next_wake(schedule, now, settings)

    refs = [job_reference(j) for j in active]
    if create is not None:
        refs.append(job_reference(create))
    if refs:
        new_status["active"] = refs
    else:
        new_status.pop("active", None)
    return CronJobPlan(
        create=create,
        delete=tuple(delete),
        status=new_status if new_status != status else None,
        events=tuple(events),
        requeue_after=requeue,
    )


def _decide_run(
    cronjob: Obj,
    schedule: Schedule,
    active: list[Obj],
    jobs: list[Obj],
    now: datetime,
    settings: CronJobSettings,
    events: list[CronEvent],
) -> tuple[Obj | None, tuple[str, ...]]:
    """The Job to create now (if any) and the active Jobs it replaces."""
    spec = cronjob.get("spec") or {}
    status = cronjob.get("status") or {}
    earliest = (
        parse_time(status.get("lastScheduleTime"))
        or parse_time(cronjob["metadata"].get("creationTimestamp"))
        or now
    )
    times = next_schedule_times(schedule, earliest, now, settings.missed_warning + 1)
    if not times:
        return None, ()
    latest = (
        times[-1]
        if len(times) <= settings.missed_warning
        else (schedule.latest_at_or_before(now) or times[-1])
    )
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        window_start = max(earliest, now - timedelta(seconds=int(deadline)))
        times = next_schedule_times(schedule, window_start, now, settings.missed_warning + 1)
        if latest + timedelta(seconds=int(deadline)) < now:
            events.append(
                CronEvent(
                    "Warning",
                    "MissSchedule",
                    f"Missed scheduled time to start a job: {format_datetime(latest)}",
                )
            )
            return None, ()
    if len(times) > settings.missed_warning:
        events.append(
            CronEvent(
                "Warning",
                "TooManyMissedTimes",
                f"too many missed start times: > {settings.missed_warning}. Set or decrease "
                ".spec.startingDeadlineSeconds or check clock skew",
            )
        )
    name = job_name(cronjob, latest)
    if any(j["metadata"]["name"] == name for j in jobs):
        return None, ()  # made already; the status will catch up
    policy = spec.get("concurrencyPolicy") or "Allow"
    replaced: tuple[str, ...] = ()
    if active and policy == "Forbid":
        events.append(
            CronEvent(
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and "
                "concurrency policy is Forbid",
            )
        )
        return None, ()
    if active and policy == "Replace":
        replaced = tuple(j["metadata"]["name"] for j in active)
        events.extend(CronEvent("Normal", "SuccessfulDelete", f"Deleted job {n}") for n in replaced)
    job = build_job(cronjob, latest)
    events.append(CronEvent("Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}"))
    return job, replaced


def _next_wake(schedule: Schedule, now: datetime, settings: CronJobSettings) -> float:
    upcoming = schedule.next_after(now)
    if upcoming is None:
        return settings.check_interval
    return max(0.0, min((upcoming - now).total_seconds(), settings.check_interval))


def _history_to_prune(spec: Obj, jobs: list[Obj]) -> list[str]:
    out: list[str] = []
    for outcome, field in (
        ("Complete", "successfulJobsHistoryLimit"),
        ("Failed", "failedJobsHistoryLimit"),
    ):
        limit = spec.get(field)
        if limit is None:
            continue
        finished = sorted((j for j in jobs if job_finished(j) == outcome), key=_age_key)
        excess = len(finished) - int(limit)
        out.extend(j["metadata"]["name"] for j in finished[: max(0, excess)])
    return out


def _age_key(job: Obj) -> tuple[str, str]:
    meta = job["metadata"]
    started = (
        (meta.get("annotations") or {}).get(SCHEDULED_ANNOTATION)
        or (job.get("status") or {}).get("startTime")
        or meta.get("creationTimestamp", "")
    )
    return str(started), meta["name"]

"""The CronJob controller: Jobs on schedule, with concurrency, deadlines and history.

``plan_cronjob`` is checked with tables. The controller runs against a real
API server on both stores with an injected clock that the tests move: a
"* * * * *" CronJob fires when the clock crosses a minute, and no real
minute is waited. The tests play the Job controller where a Job must end
(they write its Complete/Failed condition through the API).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.nodes import read, until

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.controllers.cronjob import CronJobController
from orchestrator.controllers.cronjobplan import CronJobSettings, job_name, plan_cronjob

CRONJOBS = BUILTIN_TYPES.by_group_kind("batch", "CronJob")
JOBS = BUILTIN_TYPES.by_group_kind("batch", "Job")
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
NS = "default"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SETTINGS = CronJobSettings(check_interval=10.0)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the plan, in tables -------------------------------------------------------


def cronjob(
    schedule: str = "* * * * *",
    *,
    last: datetime | None = None,
    created: datetime = T0 - timedelta(hours=1),
    active: tuple[str, ...] = (),
    **spec: Any,
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if last is not None:
        status["lastScheduleTime"] = iso(last)
    if active:
        status["active"] = [{"name": n} for n in active]
    return {
        "metadata": {
            "name": "tick",
            "namespace": NS,
            "uid": "cj-uid",
            "creationTimestamp": iso(created),
        },
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": {"spec": {}}}},
            **spec,
        },
        "status": status,
    }


def a_job(minute: datetime, outcome: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {}
    if outcome:
        status = {
            "conditions": [{"type": outcome, "status": "True"}],
            "completionTime": iso(minute + timedelta(seconds=30)),
        }
    return {
        "metadata": {
            "name": f"tick-{int(minute.timestamp()) // 60}",
            "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp": iso(minute)},
        },
        "status": status,
    }


def test_job_names_count_minutes_since_the_epoch() -> None:
    assert job_name(cronjob(), T0) == f"tick-{int(T0.timestamp()) // 60}"


@pytest.mark.parametrize(
    ("the_cronjob", "jobs", "now", "creates", "deletes", "events"),
    [
        # the most recent missed time runs, once
        (cronjob(last=T0 - timedelta(minutes=5)), [], T0 + timedelta(seconds=5), T0, (), ()),
        (cronjob(last=T0), [], T0 + timedelta(seconds=59), None, (), ()),
        (
            cronjob(last=T0 - timedelta(minutes=1)),
            [a_job(T0)],
            T0 + timedelta(seconds=5),
            None,
            (),
            (),
        ),
        (cronjob(suspend=True, last=T0 - timedelta(minutes=1)), [], T0, None, (), ()),
        # concurrency with a Job still running
        (
            cronjob(last=T0 - timedelta(minutes=1), concurrencyPolicy="Forbid"),
            [a_job(T0 - timedelta(minutes=1))],
            T0,
            None,
            (),
            ("JobAlreadyActive",),
        ),
        (
            cronjob(last=T0 - timedelta(minutes=1), concurrencyPolicy="Replace"),
            [a_job(T0 - timedelta(minutes=1))],
            T0,
            T0,
            (a_job(T0 - timedelta(minutes=1))["metadata"]["name"],),
            ("SuccessfulDelete",),
        ),
        (
            cronjob(last=T0 - timedelta(minutes=1)),
            [a_job(T0 - timedelta(minutes=1))],
            T0,
            T0,
            (),
            (),
        ),
        # starting deadline: a time missed by more than it is skipped
        (
            cronjob(last=T0 - timedelta(minutes=1), startingDeadlineSeconds=10),
            [],
            T0 + timedelta(seconds=30),
            None,
            (),
            ("MissSchedule",),
        ),
        (
            cronjob(last=T0 - timedelta(minutes=1), startingDeadlineSeconds=60),
            [],
            T0 + timedelta(seconds=30),
            T0,
            (),
            (),
        ),
        # far too many missed times: a Warning, and the latest still runs
        (cronjob(last=T0 - timedelta(hours=3)), [], T0, T0, (), ("TooManyMissedTimes",)),
        # a bad schedule is reported, nothing runs
        (cronjob("61 * * * *"), [], T0, None, (), ("UnparseableSchedule",)),
        (cronjob(timeZone="Europe/Paris"), [], T0, None, (), ("UnknownTimeZone",)),
    ],
)
def test_plan_decides_when_to_run(
    the_cronjob: dict[str, Any],
    jobs: list[dict[str, Any]],
    now: datetime,
    creates: datetime | None,
    deletes: tuple,
    events: tuple,
) -> None:
    plan = plan_cronjob(the_cronjob, jobs, now, SETTINGS)
    if creates is None:
        assert plan.create is None
    else:
        assert plan.create is not None
        assert plan.create["metadata"]["name"] == job_name(the_cronjob, creates)
        assert plan.create["metadata"]["ownerReferences"][0]["controller"] is True
        assert plan.status is not None and plan.status["lastScheduleTime"] == iso(creates)
    assert plan.delete == deletes
    reasons = tuple(e.reason for e in plan.events if e.reason != "SuccessfulCreate")
    assert reasons == events


@pytest.mark.parametrize(
    ("now", "requeue"),
    [(T0, 60.0), (T0 + timedelta(seconds=45), 15.0), (T0 + timedelta(seconds=59.5), 0.5)],
)
def test_plan_wakes_up_at_the_next_scheduled_time(now: datetime, requeue: float) -> None:
    plan = plan_cronjob(cronjob(last=T0), [], now, CronJobSettings(check_interval=120))
    assert plan.requeue_after == pytest.approx(requeue)


def test_plan_prunes_history_oldest_first_and_tracks_status() -> None:
    minutes = [T0 - timedelta(minutes=m) for m in (5, 4, 3, 2, 1)]
    jobs = [
        a_job(minutes[0], "Complete"),
        a_job(minutes[1], "Failed"),
        a_job(minutes[2], "Complete"),
        a_job(minutes[3], "Failed"),
        a_job(minutes[4]),
    ]
    the_cronjob = cronjob(
        last=T0 - timedelta(minutes=1),
        successfulJobsHistoryLimit=1,
        active=[jobs[2]["metadata"]["name"], jobs[4]["metadata"]["name"]],
    )
    plan = plan_cronjob(the_cronjob, jobs, T0 - timedelta(seconds=30), SETTINGS)
    assert plan.delete == (jobs[0]["metadata"]["name"], jobs[1]["metadata"]["name"])
    assert plan.status is not None
    assert [r["name"] for r in plan.status["active"]] == [jobs[4]["metadata"]["name"]]
    assert plan.status["lastSuccessfulTime"] == iso(minutes[2] + timedelta(seconds=30))
    assert [e.reason for e in plan.events] == [
        "SawCompletedJob",
        "SuccessfulDelete",
        "SuccessfulDelete",
    ]


# -- against a real API server, with a clock the test moves ---------------------


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def to_next_minute(self, plus_seconds: float = 1.0) -> datetime:
        """Move past the next minute boundary; returns that scheduled minute."""
        boundary = self.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        self.now = boundary + timedelta(seconds=plus_seconds)
        return boundary


def fast(ctx: Any) -> CronJobController:
    return CronJobController(ctx, CronJobSettings(check_interval=0.05))


def manifest(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "* * * * *",
            **spec,
            "jobTemplate": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox:1.36"}],
                        }
                    }
                },
            },
        },
    }


async def jobs_of(client: APIClient, name: str) -> list[str]:
    assert JOBS is not None
    items = (await client.list(JOBS, NS, label_selector=f"app={name}"))["items"]
    return sorted(
        j["metadata"]["name"] for j in items if not j["metadata"].get("deletionTimestamp")
    )


async def finish(client: APIClient, job: str, outcome: str = "Complete") -> None:
    assert JOBS is not None
    now = iso(datetime.now(UTC))
    status: dict[str, Any] = {
        "startTime": now,
        "conditions": [{"type": outcome, "status": "True", "lastTransitionTime": now}],
    }
    if outcome == "Complete":
        status.update(completionTime=now, succeeded=1)
    else:
        status.update(failed=1)
    await client.patch(JOBS, job, {"status": status}, NS, subresource="status")


async def reasons(client: APIClient, name: str) -> set[str]:
    assert EVENTS is not None
    items = (await client.list(EVENTS, NS))["items"]
    return {e["reason"] for e in items if e["involvedObject"]["name"] == name}


def start_clock() -> Clock:
    # The CronJob's creationTimestamp comes from the real clock: start there. (The tests
    # create their CronJobs within milliseconds, long before the next real minute matters.)
    return Clock(datetime.now(UTC))


async def test_a_cronjob_fires_when_the_clock_crosses_a_minute(api: RunningAPI) -> None:
    assert CRONJOBS is not None and JOBS is not None
    clock = start_clock()
    async with controllers(api, fast, clock=clock) as cp:
        client = cp.client
        created = await client.create(CRONJOBS, manifest("tick"), NS)
        minute = clock.to_next_minute()
        name = f"tick-{int(minute.timestamp()) // 60}"
        await until(lambda: jobs_of(client, "tick"), lambda names: names == [name])
        job = await read(client, JOBS, name, NS)
        assert job is not None
        [ref] = job["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["uid"], ref["controller"]) == (
            "CronJob",
            created["metadata"]["uid"],
            True,
        )
        status = (
            await until(
                lambda: read(client, CRONJOBS, "tick", NS), lambda c: c["status"].get("active")
            )
        )["status"]
        assert status["lastScheduleTime"] == iso(minute)
        assert [r["name"] for r in status["active"]] == [name]
        await until(lambda: reasons(client, "tick"), lambda r: "SuccessfulCreate" in r)

        second = clock.to_next_minute()
        await until(
            lambda: jobs_of(client, "tick"),
            lambda names: names == sorted([name, f"tick-{int(second.timestamp()) // 60}"]),
        )


async def test_forbid_skips_while_a_job_is_active(api: RunningAPI) -> None:
    assert CRONJOBS is not None
    clock = start_clock()
    async with controllers(api, fast, clock=clock) as cp:
        client = cp.client
        await client.create(CRONJOBS, manifest("solo", concurrencyPolicy="Forbid"), NS)
        clock.to_next_minute()
        [first] = await until(lambda: jobs_of(client, "solo"), lambda names: len(names) == 1)
        clock.to_next_minute()
        await until(lambda: reasons(client, "solo"), lambda r: "JobAlreadyActive" in r)
        assert await jobs_of(client, "solo") == [first]

        await finish(client, first)  # the pending run starts once the active one is done
        await until(lambda: jobs_of(client, "solo"), lambda names: len(names) == 2)


async def test_replace_deletes_the_active_job_for_the_new_one(api: RunningAPI) -> None:
    assert CRONJOBS is not None
    clock = start_clock()
    async with controllers(api, fast, clock=clock) as cp:
        client = cp.client
        await client.create(CRONJOBS, manifest("swap", concurrencyPolicy="Replace"), NS)
        clock.to_next_minute()
        [first] = await until(lambda: jobs_of(client, "swap"), lambda names: len(names) == 1)
        second = clock.to_next_minute()
        wanted = [f"swap-{int(second.timestamp()) // 60}"]
        await until(lambda: jobs_of(client, "swap"), lambda names: names == wanted)
        assert first not in wanted


async def test_history_limits_prune_old_finished_jobs(api: RunningAPI) -> None:
    assert CRONJOBS is not None
    clock = start_clock()
    async with controllers(api, fast, clock=clock) as cp:
        client = cp.client
        await client.create(
            CRONJOBS, manifest("hist", successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1), NS
        )
        made: list[str] = []
        for outcome in ("Complete", "Failed", "Complete", "Failed", "Complete"):
            minute = clock.to_next_minute()
            made.append(f"hist-{int(minute.timestamp()) // 60}")
            await until(lambda: jobs_of(client, "hist"), lambda names: made[-1] in names)
            await finish(client, made[-1], outcome)
        # The newest success and the newest failure stay.
        await until(lambda: jobs_of(client, "hist"), lambda names: names == [made[3], made[4]])
        # The status is written after the Jobs change: wait for the last scheduled minute.
        last = iso(clock.now.replace(second=0))
        cj = await until(
            lambda: read(client, CRONJOBS, "hist", NS),
            lambda c: (
                not c["status"].get("active")
                and c["status"].get("lastSuccessfulTime")
                and c["status"].get("lastScheduleTime") == last
            ),
        )
        assert cj["status"]["lastScheduleTime"] == last


async def test_a_suspended_cronjob_does_not_fire_and_a_late_start_is_skipped(
    api: RunningAPI,
) -> None:
    assert CRONJOBS is not None
    clock = start_clock()
    async with controllers(api, fast, clock=clock) as cp:
        client = cp.client
        await client.create(CRONJOBS, manifest("paused", suspend=True), NS)
        await client.create(CRONJOBS, manifest("late", startingDeadlineSeconds=10), NS)
        clock.to_next_minute(plus_seconds=30)  # 30 s after the minute: past a 10 s deadline
        await until(lambda: reasons(client, "late"), lambda r: "MissSchedule" in r)
        assert await jobs_of(client, "late") == []
        assert await jobs_of(client, "paused") == []

        await client.patch(CRONJOBS, "paused", {"spec": {"suspend": False}}, NS)
        await until(lambda: jobs_of(client, "paused"), lambda names: len(names) == 1)

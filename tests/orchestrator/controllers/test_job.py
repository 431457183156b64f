"""The Job controller: runs to completion, retries to its backoffLimit, keeps its deadlines.

``plan_job`` is checked with tables. The controller runs against a real API
server on both stores; the pods' outcome comes from ``PodOutcomeDriver``
below, a TEST-ONLY stand-in for the scheduler and the node agent: it
reports each new pod Running, then Succeeded or Failed as its
``simulated.paas.dev/exit-code`` annotation says (a pod without it keeps
running). One end-to-end test uses the real scheduler and a simulated node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.nodes import read, simulated_nodes, until

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.informer import Handler, Informer, object_key
from orchestrator.client.rest import APIClient
from orchestrator.controllers.garbagecollector import GarbageCollector
from orchestrator.controllers.job import JobController
from orchestrator.controllers.jobplan import JobSettings, backoff_delay, plan_job
from orchestrator.scheduler.scheduler import Scheduler

JOBS = BUILTIN_TYPES.by_group_kind("batch", "Job")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
EXIT_CODE = "simulated.paas.dev/exit-code"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SETTINGS = JobSettings(backoff_base=10, backoff_cap=360)
NS = "default"


# -- the plan, in tables -------------------------------------------------------


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(
    *,
    completions: int | None = 1,
    parallelism: int = 1,
    backoff_limit: int = 6,
    deadline: int | None = None,
    ttl: int | None = None,
    status: dict | None = None,
    suspend: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "parallelism": parallelism,
        "backoffLimit": backoff_limit,
        "suspend": suspend,
        "template": {"spec": {}},
    }
    if completions is not None:
        spec["completions"] = completions
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {
        "metadata": {"name": "pi", "namespace": NS, "uid": "abcdef-123"},
        "spec": spec,
        "status": status if status is not None else {"startTime": ts(30)},
    }


def pod(n: int, phase: str = "Running", finished: float = 60.0) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if phase in ("Succeeded", "Failed"):
        status["containerStatuses"] = [
            {"name": "c", "state": {"terminated": {"finishedAt": ts(finished)}}}
        ]
    return {
        "metadata": {"name": f"pi-abcde-{n}", "creationTimestamp": ts(100 - n)},
        "status": status,
    }


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 360.0), (100, 360.0)],
)
def test_backoff_doubles_from_the_base_up_to_the_cap(failures: int, delay: float) -> None:
    assert backoff_delay(failures, SETTINGS) == delay


@pytest.mark.parametrize(
    ("the_job", "pods", "create", "delete"),
    [
        (job(completions=3, parallelism=2), [], ("pi-abcde-0", "pi-abcde-1"), ()),
        (job(completions=3, parallelism=2), [pod(0, "Succeeded"), pod(1)], ("pi-abcde-2",), ()),
        (
            job(completions=3, parallelism=5),
            [pod(0, "Succeeded")],
            ("pi-abcde-1", "pi-abcde-2"),
            (),
        ),
        (job(completions=2, parallelism=1), [pod(0), pod(1)], (), ("pi-abcde-1",)),
        (job(suspend=True), [pod(0)], (), ("pi-abcde-0",)),
        (job(completions=None, parallelism=2), [], ("pi-abcde-0", "pi-abcde-1"), ()),
        (job(completions=None, parallelism=2), [pod(0, "Succeeded"), pod(1)], (), ()),
        # a failure long enough ago: replaced at once, with the next free ordinal
        (job(), [pod(0, "Failed", finished=60)], ("pi-abcde-1",), ()),
    ],
)
def test_plan_keeps_the_wanted_number_of_pods(
    the_job: dict[str, Any], pods: list[dict[str, Any]], create: tuple, delete: tuple
) -> None:
    plan = plan_job(the_job, pods, NOW, SETTINGS)
    assert (plan.create, plan.delete) == (create, delete)


def test_plan_waits_out_the_backoff_after_a_recent_failure() -> None:
    plan = plan_job(
        job(), [pod(0, "Failed", finished=5), pod(1, "Failed", finished=2)], NOW, SETTINGS
    )
    assert plan.create == ()
    assert plan.requeue_after == pytest.approx(18.0)  # 2 failures: 20 s from the last one
    assert plan.status is not None and plan.status["failed"] == 2


@pytest.mark.parametrize(
    ("the_job", "pods", "condition", "reason", "deleted"),
    [
        (job(completions=2), [pod(0, "Succeeded"), pod(1, "Succeeded")], "Complete", None, ()),
        (
            job(completions=1, parallelism=2),
            [pod(0, "Succeeded"), pod(1)],
            "Complete",
            None,
            ("pi-abcde-1",),
        ),
        (
            job(completions=None, parallelism=2),
            [pod(0, "Succeeded"), pod(1, "Succeeded")],
            "Complete",
            None,
            (),
        ),
        (
            job(backoff_limit=1),
            [pod(0, "Failed"), pod(1, "Failed"), pod(2)],
            "Failed",
            "BackoffLimitExceeded",
            ("pi-abcde-2",),
        ),
        (job(backoff_limit=0), [pod(0, "Failed")], "Failed", "BackoffLimitExceeded", ()),
        (job(deadline=30), [pod(0)], "Failed", "DeadlineExceeded", ("pi-abcde-0",)),
    ],
)
def test_plan_finishes_the_job(
    the_job: dict[str, Any],
    pods: list[dict[str, Any]],
    condition: str,
    reason: str | None,
    deleted: tuple,
) -> None:
    plan = plan_job(the_job, pods, NOW, SETTINGS)
    assert plan.status is not None
    conditions = {c["type"]: c for c in plan.status["conditions"]}
    assert conditions[condition]["status"] == "True"
    assert conditions[condition].get("reason") == reason
    assert plan.delete == deleted
    assert plan.create == ()
    assert [e.reason for e in plan.events] == [reason or "Completed"]
    assert ("completionTime" in plan.status) == (condition == "Complete")


def test_plan_wakes_up_for_the_active_deadline() -> None:
    plan = plan_job(job(deadline=100), [pod(0)], NOW, SETTINGS)
    assert plan.requeue_after == pytest.approx(70.0)


def test_plan_sets_the_start_time_once() -> None:
    plan = plan_job(job(status={}), [], NOW, SETTINGS)
    assert plan.status is not None and plan.status["startTime"] == ts(0)
    assert plan.status["active"] == 1


@pytest.mark.parametrize(
    ("finished_ago", "ttl", "delete_job", "requeue"),
    [(10, 30, False, 20.0), (30, 30, True, None), (100, 0, True, None), (10, None, False, None)],
)
def test_plan_deletes_a_finished_job_after_its_ttl(
    finished_ago: int, ttl: int | None, delete_job: bool, requeue: float | None
) -> None:
    done = {
        "startTime": ts(200),
        "completionTime": ts(finished_ago),
        "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True"}],
    }
    plan = plan_job(job(ttl=ttl, status=done), [pod(0, "Succeeded")], NOW, SETTINGS)
    assert plan.delete_job is delete_job
    assert plan.requeue_after == requeue
    assert plan.create == () and plan.events == ()


# -- against a real API server -------------------------------------------------


class PodOutcomeDriver:
    """TEST-ONLY: plays scheduler + node agent for Job pods, through the API."""

    def __init__(self, client: APIClient) -> None:
        assert PODS is not None
        self.client = client
        self.informer = Informer(client, PODS)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.informer.add_handler(
            Handler(
                on_add=lambda p: self.queue.put_nowait(object_key(p)),
                on_update=lambda _o, p: self.queue.put_nowait(object_key(p)),
            )
        )

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.informer.run())
            while True:
                pod = self.informer.get(await self.queue.get())
                if pod is not None and not pod["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(errors.NotFound, errors.Conflict):
                        await self._step(pod)

    async def _step(self, pod: dict[str, Any]) -> None:
        assert PODS is not None
        meta = pod["metadata"]
        phase = (pod.get("status") or {}).get("phase")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if phase == "Pending":
            status: dict[str, Any] = {"phase": "Running", "startTime": now}
        elif phase == "Running" and EXIT_CODE in (meta.get("annotations") or {}):
            code = int(meta["annotations"][EXIT_CODE])
            status = {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [
                    {"name": "c", "state": {"terminated": {"exitCode": code, "finishedAt": now}}}
                ],
            }
        else:
            return
        await self.client.patch(
            PODS, meta["name"], {"status": status}, meta["namespace"], subresource="status"
        )


@contextlib.asynccontextmanager
async def pods_finish(api: RunningAPI) -> AsyncIterator[None]:
    async with APIClient(api.client_config()) as client:
        driver = PodOutcomeDriver(client)
        task = asyncio.create_task(driver.run())
        try:
            await asyncio.wait_for(driver.informer.synced.wait(), 20)
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def job_manifest(name: str, exit_code: str | None = "0", **spec: Any) -> dict[str, Any]:
    annotations = {EXIT_CODE: exit_code} if exit_code is not None else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            **spec,
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox:1.36"}],
                },
            },
        },
    }


def fast_jobs(ctx: Any) -> JobController:
    return JobController(ctx, JobSettings(backoff_base=0.05, backoff_cap=0.2))


def finished(kind: str) -> Callable[[dict[str, Any] | None], bool]:
    def check(job: dict[str, Any] | None) -> bool:
        return job is not None and any(
            c.get("type") == kind and c.get("status") == "True"
            for c in (job.get("status") or {}).get("conditions") or []
        )

    return check


async def reasons(client: APIClient, name: str) -> set[str]:
    assert EVENTS is not None
    items = (await client.list(EVENTS, NS))["items"]
    return {e["reason"] for e in items if e["involvedObject"]["name"] == name}


async def job_pods(client: APIClient, name: str) -> list[dict[str, Any]]:
    assert PODS is not None
    return (await client.list(PODS, NS, label_selector=f"job-name={name}"))["items"]


async def test_a_job_runs_to_completion(api: RunningAPI) -> None:
    assert JOBS is not None
    async with controllers(api, fast_jobs) as cp, pods_finish(api):
        client = cp.client
        created = await client.create(JOBS, job_manifest("pi", completions=3, parallelism=2), NS)
        done = await until(lambda: read(client, JOBS, "pi", NS), finished("Complete"))
        status = done["status"]
        assert status["succeeded"] == 3
        assert not status.get("active") and not status.get("failed")
        assert status["startTime"] <= status["completionTime"]
        pods = await job_pods(client, "pi")
        assert len(pods) == 3
        for p in pods:
            assert (
                p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"]
                == (created["metadata"]["uid"])
            )
            [ref] = p["metadata"]["ownerReferences"]
            assert (ref["kind"], ref["name"], ref["controller"]) == ("Job", "pi", True)
        await until(lambda: reasons(client, "pi"), {"SuccessfulCreate", "Completed"}.issubset)


async def test_failing_pods_are_retried_up_to_the_backoff_limit(api: RunningAPI) -> None:
    assert JOBS is not None
    async with controllers(api, fast_jobs) as cp, pods_finish(api):
        client = cp.client
        await client.create(JOBS, job_manifest("flaky", exit_code="1", backoffLimit=2), NS)
        done = await until(lambda: read(client, JOBS, "flaky", NS), finished("Failed"))
        [cond] = [c for c in done["status"]["conditions"] if c["type"] == "Failed"]
        assert cond["reason"] == "BackoffLimitExceeded"
        assert done["status"]["failed"] == 3
        assert len(await job_pods(client, "flaky")) == 3  # the first try and two retries
        await until(lambda: reasons(client, "flaky"), lambda r: "BackoffLimitExceeded" in r)


async def test_a_job_past_its_active_deadline_fails_and_stops_its_pods(api: RunningAPI) -> None:
    assert JOBS is not None
    async with controllers(api, fast_jobs) as cp, pods_finish(api):
        client = cp.client
        await client.create(
            JOBS,
            job_manifest(
                "slow", exit_code=None, parallelism=2, completions=2, activeDeadlineSeconds=1
            ),
            NS,
        )
        await until(lambda: job_pods(client, "slow"), lambda pods: len(pods) == 2)
        done = await until(lambda: read(client, JOBS, "slow", NS), finished("Failed"), 15)
        [cond] = [c for c in done["status"]["conditions"] if c["type"] == "Failed"]
        assert cond["reason"] == "DeadlineExceeded"
        await until(lambda: job_pods(client, "slow"), lambda pods: pods == [])
        await until(lambda: reasons(client, "slow"), lambda r: "DeadlineExceeded" in r)


async def test_a_finished_job_is_deleted_with_its_pods_after_its_ttl(api: RunningAPI) -> None:
    assert JOBS is not None
    async with controllers(api, fast_jobs, GarbageCollector) as cp, pods_finish(api):
        client = cp.client
        # 3 s: time to see it complete before it goes, even when the machine is busy
        await client.create(JOBS, job_manifest("once", ttlSecondsAfterFinished=3), NS)
        await until(lambda: read(client, JOBS, "once", NS), finished("Complete"))
        await until(lambda: read(client, JOBS, "once", NS), lambda j: j is None)
        await until(lambda: job_pods(client, "once"), lambda pods: pods == [])


async def test_a_job_completes_on_simulated_nodes_end_to_end(sqlite_api: RunningAPI) -> None:
    assert JOBS is not None
    async with (
        controllers(sqlite_api, fast_jobs, Scheduler, GarbageCollector) as cp,
        simulated_nodes(sqlite_api, 1),
    ):
        client = cp.client
        await client.create(JOBS, job_manifest("e2e", completions=2, parallelism=2), NS)
        done = await until(lambda: read(client, JOBS, "e2e", NS), finished("Complete"), 20)
        assert done["status"]["succeeded"] == 2
        assert {p["spec"]["nodeName"] for p in await job_pods(client, "e2e")} == {"node-0"}

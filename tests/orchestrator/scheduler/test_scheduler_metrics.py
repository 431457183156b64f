"""The scheduler counts its attempts by result, and its pending pods by queue (Prometheus)."""

from __future__ import annotations

from prometheus_client import REGISTRY
from scheduler_objects import make_node, make_pod
from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.wait import eventually_async
from test_scheduling import PODS, add_node, placements, scheduler

PROFILE = {"profile": "default-scheduler"}


def attempts(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "scheduler_schedule_attempts_total", {"result": result, **PROFILE}
    )
    return value or 0.0


def pending(queue: str) -> float:
    return REGISTRY.get_sample_value("scheduler_pending_pods", {"queue": queue}) or 0.0


async def test_attempts_are_counted_unschedulable_then_scheduled(sqlite_api: RunningAPI) -> None:
    assert PODS is not None
    before = {r: attempts(r) for r in ("scheduled", "unschedulable")}
    async with controllers(sqlite_api, scheduler()) as cp:
        await add_node(cp.client, make_node("small", cpu="1", memory="1Gi"))
        await cp.client.create(PODS, make_pod("big", memory="4Gi"), "default")

        async def waiting() -> bool:
            return (
                attempts("unschedulable") > before["unschedulable"]
                and pending("unschedulable") >= 1
            )

        await eventually_async(waiting, 15, "no unschedulable attempt was counted")
        await add_node(cp.client, make_node("large", cpu="4", memory="8Gi"))
        assert (await placements(cp.client, 1))["big"] == "large"
        assert attempts("scheduled") == before["scheduled"] + 1
        duration = REGISTRY.get_sample_value(
            "scheduler_scheduling_attempt_duration_seconds_count",
            {"result": "scheduled", **PROFILE},
        )
        assert duration is not None and duration >= 1

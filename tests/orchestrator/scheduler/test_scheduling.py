"""The scheduler against a real API server: pods land on nodes that fit, on both stores.

Nodes are created directly through the API (allocatable and a Ready
condition in their status, no kubelet needed); what a user would notice is
then checked through the API: ``spec.nodeName``, the pod's PodScheduled
condition and the Events.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from scheduler_objects import make_node, make_pod
from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.wait import eventually_async

from orchestrator.api.conditions import condition_of, condition_status
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.context import ControllerContext
from orchestrator.client.rest import APIClient
from orchestrator.scheduler.scheduler import Scheduler, SchedulerSettings

PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
NODES = BUILTIN_TYPES.by_group_kind("", "Node")
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
FAST = SchedulerSettings(initial_backoff=0.05, max_backoff=0.2, unschedulable_retry=5.0)


def scheduler(settings: SchedulerSettings = FAST) -> Callable[[ControllerContext], Scheduler]:
    return lambda ctx: Scheduler(ctx, settings)


async def add_node(client: APIClient, node: Obj) -> None:
    assert NODES is not None
    created = await client.create(NODES, node)
    if not (created.get("status") or {}).get("allocatable"):  # status dropped on create
        created["status"] = node["status"]
        await client.replace(NODES, created, subresource="status")


async def pods_by_name(client: APIClient) -> dict[str, Obj]:
    assert PODS is not None
    items = (await client.list(PODS, "default"))["items"]
    return {p["metadata"]["name"]: p for p in items}


async def poll(
    check: Callable[[], Any], timeout: float = 15.0, message: str = "condition not met"
) -> Any:
    """``support.wait.eventually_async`` with this module's defaults."""
    return await eventually_async(check, timeout, message)


async def placements(client: APIClient, count: int) -> dict[str, str]:
    """pod name -> node, once ``count`` pods are bound."""

    async def bound() -> dict[str, str] | None:
        pods = await pods_by_name(client)
        nodes = {n: p["spec"].get("nodeName", "") for n, p in pods.items()}
        return nodes if sum(1 for v in nodes.values() if v) >= count else None

    return await poll(bound, message=f"{count} pods were not bound in time")


async def events_for(client: APIClient, pod: str, reason: str, message: str = "") -> list[Obj]:
    """The pod's Events with ``reason`` (and ``message``, if given)."""
    assert EVENTS is not None
    items = (await client.list(EVENTS, "default"))["items"]
    return [
        e
        for e in items
        if e["involvedObject"]["name"] == pod
        and e["reason"] == reason
        and (not message or e["message"] == message)
    ]


async def test_pods_are_bound_to_nodes_that_fit(api: RunningAPI) -> None:
    assert PODS is not None
    async with controllers(api, scheduler()) as cp:
        await add_node(cp.client, make_node("small", cpu="1", memory="1Gi"))
        await add_node(cp.client, make_node("big", cpu="8", memory="16Gi"))
        await cp.client.create(PODS, make_pod("tiny", cpu="100m"), "default")
        await cp.client.create(PODS, make_pod("large", cpu="4", memory="8Gi"), "default")
        where = await placements(cp.client, 2)
        assert where["large"] == "big"
        assert where["tiny"] in ("small", "big")
        pod = (await pods_by_name(cp.client))["large"]
        assert condition_status(pod, "PodScheduled") == "True"
        events = await poll(lambda: events_for(cp.client, "large", "Scheduled"))
        assert events[0]["type"] == "Normal"
        assert events[0]["message"] == "Successfully assigned default/large to big"


async def test_a_pod_too_big_waits_with_a_reason_then_lands_on_a_new_node(
    api: RunningAPI,
) -> None:
    assert PODS is not None
    async with controllers(api, scheduler()) as cp:
        for name in ("n1", "n2"):
            await add_node(cp.client, make_node(name, cpu="2", memory="2Gi"))
        await add_node(
            cp.client,
            make_node(
                "n3",
                cpu="64",
                memory="64Gi",
                taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}],
            ),
        )
        await cp.client.create(PODS, make_pod("huge", memory="4Gi"), "default")
        expected = (
            "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{node.kubernetes.io/unreachable: }, 2 Insufficient memory."
        )
        # The scheduler may try before its watch has shown all three nodes; once it has,
        # the message names every node class.
        events = await poll(lambda: events_for(cp.client, "huge", "FailedScheduling", expected))
        assert events[0]["type"] == "Warning"

        async def condition() -> Obj | None:
            pod = (await pods_by_name(cp.client))["huge"]
            scheduled = condition_of(pod, "PodScheduled")
            return scheduled if scheduled and scheduled.get("message") == expected else None

        unschedulable = await poll(condition)
        assert unschedulable["status"] == "False"
        assert unschedulable["reason"] == "Unschedulable"
        assert (await pods_by_name(cp.client))["huge"]["spec"].get("nodeName") is None

        await add_node(cp.client, make_node("n4", cpu="4", memory="8Gi"))
        where = await placements(cp.client, 1)
        assert where["huge"] == "n4"


async def test_taints_tolerations_and_node_selectors_are_respected(api: RunningAPI) -> None:
    assert PODS is not None
    async with controllers(api, scheduler()) as cp:
        await add_node(
            cp.client,
            make_node("db", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
        )
        await add_node(cp.client, make_node("ssd", labels={"disk": "ssd"}))
        await add_node(cp.client, make_node("plain"))
        toleration = {"key": "dedicated", "operator": "Equal", "value": "db"}
        db_only = {"tolerations": [toleration], "nodeSelector": {"kubernetes.io/hostname": "db"}}
        await cp.client.create(PODS, make_pod("database", spec=db_only), "default")
        await cp.client.create(
            PODS, make_pod("fast", spec={"nodeSelector": {"disk": "ssd"}}), "default"
        )
        for i in range(6):
            await cp.client.create(PODS, make_pod(f"web-{i}"), "default")
        where = await placements(cp.client, 8)
        assert where["database"] == "db"
        assert where["fast"] == "ssd"
        assert all(where[f"web-{i}"] != "db" for i in range(6)), where


async def test_a_replicasets_pods_spread_across_nodes(api: RunningAPI) -> None:
    assert PODS is not None
    async with controllers(api, scheduler()) as cp:
        for name in ("a", "b", "c"):
            await add_node(cp.client, make_node(name))
        # Unrelated pods crowd node a first; the ReplicaSet's pods still spread evenly.
        for i in range(3):
            await cp.client.create(PODS, make_pod(f"other-{i}", node="a"), "default")
        for i in range(9):
            await cp.client.create(PODS, make_pod(f"web-{i}", owner="web"), "default")
        where = await placements(cp.client, 12)
        per_node = Counter(where[f"web-{i}"] for i in range(9))
        assert sorted(per_node.values()) == [3, 3, 3], per_node


async def test_a_burst_never_overcommits_a_node(api: RunningAPI) -> None:
    """50 pods at once onto room for exactly 50: all bound, no node past its allowance."""
    assert PODS is not None
    async with controllers(api, scheduler()) as cp:
        await add_node(cp.client, make_node("n1", cpu="2", pods=110))  # 20 x 100m
        await add_node(cp.client, make_node("n2", cpu="1", pods=110))  # 10 x 100m
        await add_node(cp.client, make_node("n3", cpu="64", pods=20))  # 20 pods
        await asyncio.gather(
            *(
                cp.client.create(PODS, make_pod(f"burst-{i}", cpu="100m"), "default")
                for i in range(50)
            )
        )
        where = await placements(cp.client, 50)
        per_node = Counter(where.values())
        assert per_node == {"n1": 20, "n2": 10, "n3": 20}
        await cp.client.create(PODS, make_pod("one-too-many", cpu="100m"), "default")
        full = "0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu."
        await poll(lambda: events_for(cp.client, "one-too-many", "FailedScheduling", full))
        assert "nodeName" not in (await pods_by_name(cp.client))["one-too-many"]["spec"]


async def test_deleting_a_pod_makes_room_for_a_waiting_one(sqlite_api: RunningAPI) -> None:
    assert PODS is not None
    async with controllers(sqlite_api, scheduler()) as cp:
        await add_node(cp.client, make_node("only", cpu="1"))
        await cp.client.create(PODS, make_pod("first", cpu="1"), "default")
        await placements(cp.client, 1)
        await cp.client.create(PODS, make_pod("second", cpu="1"), "default")
        await poll(lambda: events_for(cp.client, "second", "FailedScheduling"))
        await cp.client.delete(PODS, "first", "default", grace_period_seconds=0)
        where = await placements(cp.client, 1)
        assert where.get("second") == "only"

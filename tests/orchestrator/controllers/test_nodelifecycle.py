"""Node lifecycle: a silent node goes NotReady and tainted, its pods are evicted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.controlplane import controllers
from support.nodes import read, simulated_nodes, until

from orchestrator.api.conditions import condition_of, condition_status
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.nodelifecycle import (
    NOT_READY,
    UNREACHABLE,
    NodeLifecycleController,
    NodeLifecycleSettings,
    desired_taints,
    eviction_delay,
    tolerates,
)

NODES = BUILTIN_TYPES.by_group_kind("", "Node")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
STAMP = "2024-05-01T12:00:00Z"


def node(ready: str | None, taints=None) -> dict:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {"spec": {"taints": taints or []}, "status": {"conditions": conditions}}


@pytest.mark.parametrize(
    ("ready", "before", "after"),
    [
        ("True", [], []),
        ("Unknown", [], [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]),
        (None, [], [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]),
        ("False", [], [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]),
        ("True", [{"key": UNREACHABLE, "effect": "NoExecute"}], []),
        ("True", [{"key": "dedicated", "effect": "NoSchedule"}], [("dedicated", "NoSchedule")]),
        (
            "False",
            [{"key": UNREACHABLE, "effect": "NoExecute"}],
            [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")],
        ),
    ],
)
def test_desired_taints(ready, before, after):
    got = desired_taints(node(ready, before), NOW)
    assert [(t["key"], t["effect"]) for t in got] == after
    for t in got:
        if t["key"] in (UNREACHABLE, NOT_READY) and t["effect"] == "NoExecute":
            assert t["timeAdded"] == STAMP


def test_existing_taint_keeps_its_time_added():
    taint = {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"}
    got = desired_taints(node("Unknown", [taint]), NOW)
    assert taint in got


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"key": "a", "operator": "Exists"}, {"key": "a", "effect": "NoExecute"}, True),
        ({"operator": "Exists"}, {"key": "a", "effect": "NoExecute"}, True),
        ({"key": "a", "value": "x"}, {"key": "a", "value": "x", "effect": "NoExecute"}, True),
        ({"key": "a", "value": "y"}, {"key": "a", "value": "x", "effect": "NoExecute"}, False),
        (
            {"key": "a", "effect": "NoSchedule", "operator": "Exists"},
            {"key": "a", "effect": "NoExecute"},
            False,
        ),
        ({"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoExecute"}, False),
    ],
)
def test_tolerates(toleration, taint, expected):
    assert tolerates(toleration, taint) is expected


UNREACH = {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": STAMP}


@pytest.mark.parametrize(
    ("tolerations", "taints", "elapsed", "expected"),
    [
        ([], [], 0, None),
        ([], [{"key": UNREACHABLE, "effect": "NoSchedule"}], 0, None),
        ([], [UNREACH], 0, 300.0),  # the default toleration
        ([], [UNREACH], 301, -1.0),
        (
            [
                {
                    "key": UNREACHABLE,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 30,
                }
            ],
            [UNREACH],
            10,
            20.0,
        ),
        ([{"key": UNREACHABLE, "operator": "Exists"}], [UNREACH], 10_000, None),  # forever
        ([{"operator": "Exists"}], [UNREACH], 10_000, None),
        ([], [{"key": "custom", "effect": "NoExecute"}], 0, 0.0),  # untolerated: at once
        (
            [{"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 600}],
            [UNREACH, {"key": "custom", "effect": "NoExecute"}],
            0,
            0.0,
        ),
    ],
)
def test_eviction_delay(tolerations, taints, elapsed, expected):
    pod = {"spec": {"tolerations": tolerations}}
    now = NOW + timedelta(seconds=elapsed)
    assert eviction_delay(pod, taints, now, 300.0) == expected


def ready_of(obj) -> str:
    return condition_status(obj or {}, "Ready")


def taint_keys(obj) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (obj or {}).get("spec", {}).get("taints") or []}


def pod(name: str, node_name: str, tolerations=None) -> dict:
    spec = {"nodeName": node_name, "containers": [{"name": "app", "image": "paas/stack:bookworm"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def test_lost_node_is_tainted_its_pods_evicted_and_it_recovers(api):
    settings = NodeLifecycleSettings(node_monitor_grace_period=1.0, pod_eviction_timeout=1.0)
    async with simulated_nodes(api, count=2) as nodes:
        client = nodes.client
        forever = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]
        await client.create(PODS, pod("doomed", "node-0"), "default")
        await client.create(PODS, pod("stays", "node-0", forever), "default")
        await client.create(PODS, pod("elsewhere", "node-1"), "default")
        for name in ("doomed", "stays", "elsewhere"):
            await until(
                lambda n=name: read(client, PODS, n, "default"), lambda p: ready_of(p) == "True"
            )

        async with controllers(api, lambda ctx: NodeLifecycleController(ctx, settings)):
            await nodes.stop("node-0")
            lost = await until(
                lambda: read(client, NODES, "node-0"),
                lambda n: ready_of(n) == "Unknown" and taint_keys(n),
            )
            ready = condition_of(lost, "Ready")
            assert ready is not None
            assert ready["reason"] == "NodeStatusUnknown"
            assert ready["message"] == "Kubelet stopped posting node status."
            assert taint_keys(lost) == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}

            doomed = await until(
                lambda: read(client, PODS, "doomed", "default"),
                lambda p: p["metadata"].get("deletionTimestamp"),
            )
            assert ready_of(doomed) == "False"  # marked not ready on the lost node
            stays = await read(client, PODS, "stays", "default")
            assert not stays["metadata"].get("deletionTimestamp")
            assert ready_of(await read(client, NODES, "node-1")) == "True"
            assert not (await read(client, PODS, "elsewhere", "default"))["metadata"].get(
                "deletionTimestamp"
            )

            events = (await client.list(EVENTS, "default"))["items"]
            reasons = {(e["involvedObject"]["name"], e["reason"]) for e in events}
            assert ("doomed", "TaintManagerEviction") in reasons
            assert ("stays", "TaintManagerEviction") not in reasons
            node_events = (await client.list(EVENTS))["items"]
            assert any(
                e["reason"] == "NodeNotReady" and e["involvedObject"]["name"] == "node-0"
                for e in node_events
            )

            await nodes.start("node-0")
            back = await until(
                lambda: read(client, NODES, "node-0"),
                lambda n: ready_of(n) == "True" and not taint_keys(n),
            )
            assert back
            await until(lambda: read(client, PODS, "doomed", "default"), lambda p: p is None)
            await until(
                lambda: read(client, PODS, "stays", "default"), lambda p: ready_of(p) == "True"
            )


async def test_heartbeating_nodes_stay_ready(sqlite_api):
    settings = NodeLifecycleSettings(node_monitor_grace_period=1.0)
    async with simulated_nodes(sqlite_api, count=2) as nodes:
        async with controllers(
            sqlite_api, lambda ctx: NodeLifecycleController(ctx, settings)
        ) as cp:
            lifecycle = cp.controllers[0]
            # several grace periods pass (judged by the controller's own observations)
            start = cp.ctx.clock()
            await until(
                lambda: _now(cp), lambda now: (now - start).total_seconds() > 2.5, timeout=10
            )
            for name in nodes.names:
                n = await read(nodes.client, NODES, name)
                assert ready_of(n) == "True" and not taint_keys(n)
                assert lifecycle.silence(name, n) < 1.0


async def _now(cp):
    return cp.ctx.clock()

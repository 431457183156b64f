"""The ReplicaSet controller: what a user sees of their pods, on both stores.

The pure decision (``plan_replicas``) is checked with tables; the controller
runs against a real API server, with ``support.podready`` standing in for the
scheduler and the node agent where pods must become Ready.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.controlplane import controllers
from support.podready import pods_become_ready
from support.wait import eventually_async as eventually_async_

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.expectations import Expectations
from orchestrator.controllers.replicas import (
    deletion_order,
    plan_replicas,
    replicaset_status,
    slow_start_batches,
)
from orchestrator.controllers.replicaset import ReplicaSetController

RS = BUILTIN_TYPES.by_group_kind("apps", "ReplicaSet")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name,
    *,
    node="",
    phase="Pending",
    ready=None,
    created=100,
    restarts=0,
    deleting=False,
    labels=None,
):
    status = {"phase": phase}
    if ready is not None:
        status["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": stamp(ready)}
        ]
    if restarts:
        status["containerStatuses"] = [{"name": "c", "restartCount": restarts}]
    meta = {"name": name, "creationTimestamp": stamp(created), "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = stamp(0)
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}, "status": status}


def replicaset(replicas, min_ready=0, generation=3):
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": generation},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}},
        },
        "status": {"replicas": 0},
    }


@pytest.mark.parametrize(
    ("first", "then", "why"),
    [
        (pod("a"), pod("b", node="n"), "unscheduled before scheduled"),
        (pod("a", node="n"), pod("b", node="n", phase="Unknown"), "pending before unknown"),
        (
            pod("a", node="n", phase="Unknown"),
            pod("b", node="n", phase="Running"),
            "unknown before running",
        ),
        (
            pod("a", node="n", phase="Running"),
            pod("b", node="n", phase="Running", ready=5),
            "not ready before ready",
        ),
        (
            pod("a", node="n", phase="Running", ready=5),
            pod("b", node="n", phase="Running", ready=50),
            "ready for less time first",
        ),
        (
            pod("a", node="n", phase="Running", ready=5, restarts=3),
            pod("b", node="n", phase="Running", ready=5),
            "more restarts first",
        ),
        (
            pod("a", node="n", phase="Running", ready=5, created=10),
            pod("b", node="n", phase="Running", ready=5, created=500),
            "newer before older",
        ),
    ],
)
def test_scale_down_removes_the_least_valuable_pod_first(first, then, why):
    assert sorted([then, first], key=deletion_order)[0] is first, why
    plan = plan_replicas(replicaset(1), [then, first], NOW)
    assert [p["metadata"]["name"] for p in plan.delete] == [first["metadata"]["name"]]


@pytest.mark.parametrize(
    ("replicas", "pods", "create", "deleted"),
    [
        (3, [], 3, 0),
        (3, [pod("a"), pod("b")], 1, 0),
        (3, [pod("a"), pod("b"), pod("c", deleting=True)], 1, 0),  # terminating does not count
        (1, [pod("a"), pod("b", phase="Succeeded"), pod("c", phase="Failed")], 0, 0),
        (0, [pod("a"), pod("b")], 0, 2),
        (2, [pod("a"), pod("b")], 0, 0),
    ],
)
def test_plan_counts_only_active_pods(replicas, pods, create, deleted):
    plan = plan_replicas(replicaset(replicas), pods, NOW)
    assert (plan.create, len(plan.delete)) == (create, deleted)


def test_plan_waits_while_expectations_are_pending_but_reports_status():
    plan = plan_replicas(
        replicaset(3), [pod("a", node="n", phase="Running", ready=9)], NOW, manage=False
    )
    assert plan.create == 0
    assert plan.status == {
        "replicas": 1,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 3,
    }


def test_burst_limits_one_pass():
    assert plan_replicas(replicaset(1000), [], NOW, burst=500).create == 500


def test_status_counts_available_after_min_ready_seconds_and_requeues():
    pods = [
        pod("a", node="n", phase="Running", ready=30),
        pod("b", node="n", phase="Running", ready=2),
        pod("c", labels={"app": "web", "extra": "x"}),
    ]
    rs = replicaset(3, min_ready=10)
    assert replicaset_status(rs, pods, NOW) == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 1,
        "observedGeneration": 3,
    }
    assert plan_replicas(rs, pods, NOW).requeue_after == pytest.approx(8.0)
    assert replicaset_status(replicaset(0), [], NOW) == {"replicas": 0, "observedGeneration": 3}


def test_slow_start_batches_double():
    assert list(slow_start_batches(10)) == [1, 2, 4, 3]
    assert list(slow_start_batches(0)) == []


def test_expectations_block_until_observed_or_expired():
    clock = [0.0]
    exp = Expectations(ttl=5, clock=lambda: clock[0])
    exp.expect("ns/rs", adds=2, deletes=["ns/p1"])
    exp.creation_observed("ns/rs")
    exp.deletion_observed("ns/rs", "ns/p1")
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect("ns/rs", adds=1)
    clock[0] = 6
    assert exp.satisfied("ns/rs")


# -- against the API server ------------------------------------------------------


def rs_manifest(name="web", replicas=3, labels=None):
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }


def bare_pod(name, labels):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"containers": [{"name": "web", "image": "web:1"}]},
    }


async def live_pods(client, selector="app=web"):
    items = (await client.list(PODS, "default", label_selector=selector))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def test_replicas_are_restored_after_a_pod_is_deleted(api):
    async with controllers(api, ReplicaSetController) as cp, pods_become_ready(api):
        client = cp.client
        rs = await client.create(RS, rs_manifest(), "default")

        async def ready_status():
            got = await client.get(RS, "web", "default")
            return got["status"] if got["status"].get("readyReplicas") == 3 else None

        status = await eventually_async(ready_status)
        assert status["replicas"] == 3 and status["availableReplicas"] == 3
        assert status["observedGeneration"] == 1
        pods = await live_pods(client)
        assert len(pods) == 3
        for p in pods:
            assert p["metadata"]["name"].startswith("web-")
            [ref] = p["metadata"]["ownerReferences"]
            assert ref == {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }

        victim = pods[0]["metadata"]["name"]
        await client.delete(PODS, victim, "default")

        async def replaced():
            names = {p["metadata"]["name"] for p in await live_pods(client)}
            return len(names) == 3 and victim not in names

        await eventually_async(replaced)
        await eventually_async(ready_status)

        async def reasons() -> list[tuple[str, str]]:
            events = (await client.list(EVENTS, "default"))["items"]
            return [(e["reason"], e["involvedObject"]["name"]) for e in events]

        # events are posted in the background: wait for the replacement's to arrive
        await eventually_async(lambda: _count(reasons(), ("SuccessfulCreate", "web"), 4))
        assert ("SuccessfulDelete", "web") not in await reasons()


async def test_orphans_are_adopted_and_pods_that_stop_matching_are_released(api):
    async with controllers(api, ReplicaSetController) as cp:
        client = cp.client
        for i in range(2):
            await client.create(PODS, bare_pod(f"orphan-{i}", {"app": "web"}), "default")
        # The orphans reach the controller's pod cache on another watch stream than the RS;
        # had the RS come first, the controller would rightly have made pods of its own.
        cache = cp.ctx.informers.informer(PODS)
        await eventually_async(lambda: _cached(cache, "default/orphan-0", "default/orphan-1"))
        rs = await client.create(RS, rs_manifest(replicas=2), "default")

        async def adopted():
            pods = await live_pods(client)
            owners = {
                p["metadata"]["name"]: (p["metadata"].get("ownerReferences") or [{}])[0].get("uid")
                for p in pods
            }
            return (
                owners
                if owners == {"orphan-0": rs["metadata"]["uid"], "orphan-1": rs["metadata"]["uid"]}
                else None
            )

        await eventually_async(adopted)  # no pod was created: the orphans were enough
        await client.patch(PODS, "orphan-0", {"metadata": {"labels": {"app": "other"}}}, "default")

        async def released_and_replaced():
            freed = await client.get(PODS, "orphan-0", "default")
            pods = await live_pods(client)
            return not freed["metadata"].get("ownerReferences") and len(pods) == 2

        await eventually_async(released_and_replaced)
        names = {p["metadata"]["name"] for p in await live_pods(client)}
        assert "orphan-1" in names and "orphan-0" not in names


async def test_scale_down_deletes_unscheduled_then_not_ready_pods(api):
    async with controllers(api, ReplicaSetController) as cp:
        client = cp.client
        await client.create(RS, rs_manifest(replicas=3), "default")
        pods = await eventually_async(lambda: _n_pods(client, 3))
        names = sorted(p["metadata"]["name"] for p in pods)
        scheduled, ready = names[0], names[1]
        for name in (scheduled, ready):
            await client.request(
                "POST",
                f"/api/v1/namespaces/default/pods/{name}/binding",
                json_body={
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name},
                    "target": {"kind": "Node", "name": "node-a"},
                },
            )
        await client.patch(
            PODS,
            ready,
            {
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "lastTransitionTime": "2024-01-01T00:00:00Z",
                        }
                    ],
                }
            },
            "default",
            subresource="status",
        )
        await eventually_async(lambda: _rs_status(client, "readyReplicas", 1))

        await client.patch(RS, "web", {"spec": {"replicas": 2}}, "default", subresource="scale")
        left = await eventually_async(lambda: _n_pods(client, 2))
        assert sorted(p["metadata"]["name"] for p in left) == [scheduled, ready]

        await client.patch(RS, "web", {"spec": {"replicas": 1}}, "default", subresource="scale")
        left = await eventually_async(lambda: _n_pods(client, 1))
        assert [p["metadata"]["name"] for p in left] == [ready]
        terminating = await client.get(PODS, scheduled, "default")
        assert terminating["metadata"]["deletionTimestamp"]  # bound: deleted gracefully
        events = (await client.list(EVENTS, "default"))["items"]
        deleted = [e["message"] for e in events if e["reason"] == "SuccessfulDelete"]
        assert len(deleted) == 2 and f"Deleted pod: {scheduled}" in deleted


async def _cached(informer, *keys):
    return all(informer.get(key) is not None for key in keys)


async def _n_pods(client, n):
    pods = await live_pods(client)
    return pods if len(pods) == n else None


async def _rs_status(client, key, value):
    got = await client.get(RS, "web", "default")
    return got["status"].get(key) == value


async def eventually_async(check, timeout=15.0):
    """Poll an async ``check`` until it is truthy (see support.wait)."""
    return await eventually_async_(check, timeout)


async def _count(reasons, reason: tuple[str, str], want: int) -> bool:
    return (await reasons).count(reason) == want

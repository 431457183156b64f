"""The controller-manager as a process: failover, and SIGKILL in the middle of a rollout.

Real ``paas controller-manager`` processes (short leases) run against the
test API server, with the scheduler and simulated nodes in-process. Killing
the leader with SIGKILL leaves no chance to clean up or release the lease:
the standby must take over within the lease duration, and a restarted
manager must finish a rolling update in the same end state as an
undisturbed run (one ReplicaSet with every replica on the new template).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.components import FAST_LEASE, ComponentProcesses
from support.controlplane import controllers
from support.nodes import simulated_nodes
from support.wait import eventually_async

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.scheduler.scheduler import Scheduler

DEPLOYMENTS = BUILTIN_TYPES.by_group_kind("apps", "Deployment")
REPLICASETS = BUILTIN_TYPES.by_group_kind("apps", "ReplicaSet")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
LEASES = BUILTIN_TYPES.by_group_kind("coordination.k8s.io", "Lease")


@pytest.fixture
def procs(api: RunningAPI, tmp_path: Path) -> Iterator[ComponentProcesses]:
    running = ComponentProcesses(api, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


def web(replicas: int, image: str, ready_after: int = 0) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": image}
    if ready_after:  # the simulated node honours the probe's initial delay
        container["readinessProbe"] = {
            "tcpSocket": {"port": 8000},
            "initialDelaySeconds": ready_after,
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [container]},
            },
        },
    }


async def lease_holder(client: APIClient) -> str:
    assert LEASES is not None
    try:
        lease = await client.get(LEASES, "paas-controller-manager", "kube-system")
    except errors.NotFound:
        return ""
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


async def rolled_out(client: APIClient, replicas: int, image: str) -> bool:
    """The end state of an undisturbed rollout to ``image``."""
    assert DEPLOYMENTS is not None and REPLICASETS is not None and PODS is not None
    d = await client.get(DEPLOYMENTS, "web", "default")
    status = d.get("status") or {}
    if d["metadata"].get("generation") != status.get("observedGeneration"):
        return False
    if not all(
        status.get(k) == replicas
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    ):
        return False
    sets = (await client.list(REPLICASETS, "default", label_selector="app=web"))["items"]
    scaled = [rs for rs in sets if rs["spec"].get("replicas")]
    if len(scaled) != 1:
        return False
    pods = (await client.list(PODS, "default", label_selector="app=web"))["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return len(live) == replicas and all(p["spec"]["containers"][0]["image"] == image for p in live)


async def test_standby_manager_takes_over_when_the_leader_is_killed(
    api: RunningAPI, procs: ComponentProcesses
) -> None:
    assert DEPLOYMENTS is not None
    async with simulated_nodes(api, count=2), controllers(api, Scheduler) as cp:
        client = cp.client
        for _ in range(2):
            procs.start("controller-manager", *FAST_LEASE)
        holder = await eventually_async(lambda: lease_holder(client), timeout=20)
        leader = procs.by_identity(holder)
        assert leader is not None, f"no process matches the lease holder {holder!r}"
        await client.create(DEPLOYMENTS, web(2, "paas/stack:v1"), "default")
        await _until(lambda: rolled_out(client, 2, "paas/stack:v1"), 30)

        procs.kill(leader)
        await client.patch(
            DEPLOYMENTS, "web", {"spec": {"replicas": 4}}, "default", subresource="scale"
        )
        await _until(lambda: rolled_out(client, 4, "paas/stack:v1"), 30)
        new_holder = await lease_holder(client)
        assert procs.by_identity(new_holder) not in (None, leader)


async def test_manager_killed_mid_rollout_finishes_it_after_restart(
    api: RunningAPI, procs: ComponentProcesses
) -> None:
    assert DEPLOYMENTS is not None
    async with simulated_nodes(api, count=2), controllers(api, Scheduler) as cp:
        client = cp.client
        first = procs.start("controller-manager", *FAST_LEASE)
        await client.create(DEPLOYMENTS, web(6, "paas/stack:v1"), "default")
        await _until(lambda: rolled_out(client, 6, "paas/stack:v1"), 30)

        # New pods take a second to become ready, so the rollout takes several seconds.
        template = web(6, "paas/stack:v2", ready_after=1)["spec"]["template"]
        await client.patch(
            DEPLOYMENTS,
            "web",
            {"spec": {"template": template}},
            "default",
            patch_type="application/strategic-merge-patch+json",
        )

        async def midway() -> bool:
            status = (await client.get(DEPLOYMENTS, "web", "default")).get("status") or {}
            return 1 <= int(status.get("updatedReplicas") or 0) < 6

        await _until(midway, 30)
        procs.kill(first)
        procs.start("controller-manager", *FAST_LEASE)
        await _until(lambda: rolled_out(client, 6, "paas/stack:v2"), 60)


async def _until(check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    await eventually_async(check, timeout, f"not reached within {timeout}s")

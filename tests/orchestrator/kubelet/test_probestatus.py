"""Probe results written between pod worker passes, against a real API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from support.apiserver import RunningAPI

from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.containerstatus import Observed, pod_status
from orchestrator.kubelet.probestatus import ProbeStatus
from orchestrator.kubelet.runtimes.base import ContainerState, Sandbox

PODS = BUILTIN_TYPES.require("", "Pod")
CID = "process://u1.web.0"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def client(sqlite_api: RunningAPI) -> AsyncIterator[APIClient]:
    async with APIClient(sqlite_api.client_config()) as c:
        yield c


async def running_pod(client: APIClient) -> tuple[Obj, Observed]:
    """A pod as a pass left it: Running, its one container not ready yet."""
    pod = await client.create(
        PODS,
        {
            "metadata": {"name": "web"},
            "spec": {
                "nodeName": "node-a",
                "containers": [{"name": "web", "image": "paas/stack:bookworm"}],
            },
        },
        "default",
    )
    uid = pod["metadata"]["uid"]
    sandbox = Sandbox(f"process://{uid}", uid, "default", "web", "10.244.0.2")
    state = ContainerState(CID, uid, "web", 0, "running", started_at=now())
    seen = Observed(sandbox, [state], "127.0.0.1", {}, {CID: False}, {CID: True})
    body = {**pod, "status": pod_status(pod, seen, now())}
    return await client.replace(PODS, body, "default", subresource="status"), seen


def ready(pod: Obj) -> str:
    return next(c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready")


async def test_a_readiness_flip_is_written_without_a_pass(client: APIClient) -> None:
    pod, seen = await running_pod(client)
    uid = pod["metadata"]["uid"]
    results = {"ready": False}
    status = ProbeStatus(
        client,
        lambda _uid: pod,
        lambda _uid: ({CID: results["ready"]}, {CID: True}),
        now,
    )
    status.observed(uid, seen)
    results["ready"] = True
    status.changed(uid)
    await status.drain()
    written = await client.get(PODS, "web", "default")
    assert ready(written) == "True"
    assert written["status"]["containerStatuses"][0]["ready"] is True
    assert written["status"]["phase"] == "Running"


async def test_a_stale_cache_is_caught_up_with_not_overwritten(client: APIClient) -> None:
    pod, seen = await running_pod(client)
    uid = pod["metadata"]["uid"]
    newer = {**pod, "status": {**pod["status"], "message": "written by a pass meanwhile"}}
    await client.replace(PODS, newer, "default", subresource="status")
    status = ProbeStatus(client, lambda _uid: pod, lambda _uid: ({CID: True}, {CID: True}), now)
    status.observed(uid, seen)
    status.changed(uid)
    await status.drain()  # a 409 with the cached pod, then a write over the pod read again
    kept = await client.get(PODS, "web", "default")
    assert kept["status"]["message"] == "written by a pass meanwhile"
    assert ready(kept) == "True"


async def test_nothing_is_written_for_a_pod_no_pass_saw_running(client: APIClient) -> None:
    pod, seen = await running_pod(client)
    uid = pod["metadata"]["uid"]
    status = ProbeStatus(client, lambda _uid: pod, lambda _uid: ({CID: True}, {CID: True}), now)
    status.observed(uid, seen)
    status.observed(uid, None)  # its last pass found no sandbox
    status.changed(uid)
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    other = ProbeStatus(client, lambda _uid: deleting, lambda _uid: ({CID: True}, {CID: True}), now)
    other.observed(uid, seen)
    other.changed(uid)
    await asyncio.gather(status.drain(), other.drain())
    assert (await client.get(PODS, "web", "default"))["metadata"]["resourceVersion"] == pod[
        "metadata"
    ]["resourceVersion"]

"""The node agent counts its running pods and containers and how long pods took to start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from support.apiserver import RunningAPI
from support.kubelet import KubeletNode, kubelet_node_for
from support.wait import eventually_async

from orchestrator.kubelet.runtimes.base import STACK_IMAGE


@pytest.fixture
async def process_node(
    request: pytest.FixtureRequest, sqlite_api: RunningAPI, tmp_path: Path
) -> AsyncIterator[KubeletNode]:
    async with kubelet_node_for(request, sqlite_api, "process", tmp_path) as node:
        yield node


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_started_pod_is_counted_running_with_its_start_time(
    process_node: KubeletNode,
) -> None:
    starts = sample("kubelet_pod_start_duration_seconds_count")
    creates = sample("kubelet_pod_worker_duration_seconds_count", operation="create")
    sleeper = {"name": "app", "image": STACK_IMAGE, "command": ["sleep", "60"]}
    pod = {"metadata": {"name": "counted"}, "spec": {"containers": [sleeper]}}
    await process_node.create_pod(pod)
    await process_node.wait_pod("counted", lambda p: p["status"].get("phase") == "Running")

    async def counted() -> bool:
        # the worker's pass is timed when it ends, which may be after the status it posted
        return (
            sample("kubelet_running_pods") >= 1
            and sample("kubelet_running_containers", container_state="running") >= 1
            and sample("kubelet_pod_worker_duration_seconds_count", operation="create")
            >= creates + 1
        )

    await eventually_async(counted, 10, "the running pod was not counted")
    assert sample("kubelet_pod_start_duration_seconds_count") == starts + 1

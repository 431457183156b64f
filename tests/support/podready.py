"""A stand-in for the scheduler and the node agent, for controller tests.

``pods_become_ready(api)`` watches pods and does, through the API, what the
scheduler and a (simulated) kubelet would: binds each new pod to a node,
reports it Running and Ready, and confirms graceful deletions with a zero
grace period so that terminating pods go away. A pod whose image is listed
in ``never_ready`` is reported Running but not Ready (a broken release).

It exists only until ``orchestrator/scheduler`` and the simulated kubelet
(``tests/support/nodes.py``) land; it makes no placement decision at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.informer import Handler, Informer, InformerSettings, object_key
from orchestrator.client.rest import APIClient
from support.apiserver import RunningAPI

PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
NODE = "node-a"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodDriver:
    def __init__(self, client: APIClient, never_ready: frozenset[str]) -> None:
        assert PODS is not None
        self.client = client
        self.never_ready = set(never_ready)
        self.informer = Informer(client, PODS, settings=InformerSettings(watch_timeout=60))
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
                key = await self.queue.get()
                pod = self.informer.get(key)
                if pod is None:
                    continue
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await self._step(pod)

    async def _step(self, pod: dict) -> None:
        assert PODS is not None
        meta, spec = pod["metadata"], pod.get("spec", {})
        name, ns = meta["name"], meta["namespace"]
        if meta.get("deletionTimestamp"):
            await self.client.delete(PODS, name, ns, grace_period_seconds=0)
            return
        if not spec.get("nodeName"):
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
            }
            await self.client.request(
                "POST", f"/api/v1/namespaces/{ns}/pods/{name}/binding", json_body=binding
            )
            return
        if pod.get("status", {}).get("phase") != "Pending":
            return
        images = {c.get("image") for c in spec.get("containers") or []}
        ready = "False" if images & self.never_ready else "True"
        now = _now()
        status = {
            "phase": "Running",
            "startTime": now,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
                {"type": "Ready", "status": ready, "lastTransitionTime": now},
            ],
        }
        await self.client.patch(PODS, name, {"status": status}, ns, subresource="status")


@contextlib.asynccontextmanager
async def pods_become_ready(
    api: RunningAPI, *, never_ready: frozenset[str] = frozenset()
) -> AsyncIterator[PodDriver]:
    """Run a ``PodDriver`` against ``api`` for the duration of the block."""
    async with APIClient(api.client_config()) as client:
        driver = PodDriver(client, never_ready)
        task = asyncio.create_task(driver.run())
        try:
            await asyncio.wait_for(driver.informer.synced.wait(), 20)
            yield driver
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

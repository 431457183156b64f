"""Simulated nodes in-process against a test API server.

    async with simulated_nodes(api, count=3) as nodes:
        await nodes.stop("node-1")    # node loss: no more lease, status or pod work
        await nodes.start("node-1")   # it comes back and adopts its pods

``read`` and ``until`` re-read an object from the API until a check holds.
Each node runs its own ``SimulatedNode`` (own informers) as a task, so that
one can be stopped and started again without touching the others. Settings
default to short timers suited to tests; pass ``settings=`` to change them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.simulated import SimulatedNode, SimulatedNodeSettings
from support.apiserver import RunningAPI


async def read(client: APIClient, rt: ResourceType, name: str, namespace: str = "") -> Obj | None:
    """The object, or None when it does not exist."""
    try:
        return await client.get(rt, name, namespace)
    except errors.NotFound:
        return None


async def until(
    fetch: Callable[[], Awaitable[Any]], check: Callable[[Any], Any], timeout: float = 10.0
) -> Any:
    """Re-read with ``fetch`` until ``check(obj)`` holds, within a deadline; returns the object."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        obj = await fetch()
        if check(obj):
            return obj
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last read: {obj}")
        await asyncio.sleep(0.02)


FAST = SimulatedNodeSettings(
    lease_renew_interval=0.2,
    lease_duration=1,
    node_status_update_frequency=0.2,
    node_status_report_frequency=5.0,
)


@dataclass
class SimulatedNodes:
    client: APIClient
    settings: SimulatedNodeSettings
    names: list[str]
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    agents: dict[str, SimulatedNode] = field(default_factory=dict)

    def start_soon(self, name: str) -> None:
        agent = SimulatedNode(self.client, name, self.settings)
        self.agents[name] = agent
        self.tasks[name] = asyncio.create_task(agent.run(), name=f"simulated {name}")

    async def start(self, name: str) -> None:
        """Start (or restart) node ``name``; returns once its Node is registered."""
        await self.stop(name)
        self.start_soon(name)
        agent = self.agents[name]
        while agent.agent.node is None:
            task = self.tasks[name]
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.01)

    async def stop(self, name: str) -> None:
        """Node loss: the agent stops at once, leaving its Node, Lease and pods behind."""
        task = self.tasks.pop(name, None)
        self.agents.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop_all(self) -> None:
        for name in list(self.tasks):
            await self.stop(name)


@contextlib.asynccontextmanager
async def simulated_nodes(
    api: RunningAPI,
    count: int = 1,
    *,
    names: list[str] | None = None,
    settings: SimulatedNodeSettings = FAST,
    capacity: dict[str, str] | None = None,
) -> AsyncIterator[SimulatedNodes]:
    """Run ``count`` simulated nodes (``node-0``...) or the ``names`` given."""
    if capacity is not None:
        settings = replace(settings, capacity=dict(capacity))
    chosen = names or [f"node-{i}" for i in range(count)]
    async with APIClient(api.client_config()) as client:
        nodes = SimulatedNodes(client, settings, chosen)
        try:
            for name in chosen:
                await nodes.start(name)
            yield nodes
        finally:
            await nodes.stop_all()

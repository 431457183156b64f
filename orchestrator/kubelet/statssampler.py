"""The node agent's sampling loop: every ``interval`` seconds, read the runtime and the node.

Like cAdvisor's housekeeping inside the kubelet: one pass asks the runtime
for a reading of every running container (``Runtime.stats``: cgroups or
/proc on the process runtime, the engine's one-shot stats on Docker) and
reads the node from /proc, and records them in the ``StatsCache``; the
HTTPS server serves ``snapshot()`` of the cache (``statssummary``). The
rate of a key needs two passes, so a container shows CPU use from its
second reading on.

A pass that fails (the engine does not answer) is logged, counted as a
scrape error, and the next pass tries again; the readings of the last good
pass stay, and their timestamps say how old they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from orchestrator.kubelet.runtimes.base import ContainerUsage
from orchestrator.kubelet.stats import NODE_KEY, Rated, StatsCache
from orchestrator.kubelet.statsnode import read_node_usage
from orchestrator.kubelet.statssummary import Snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatsSettings:
    interval: float = 10.0  # seconds between passes: cAdvisor's housekeeping interval
    enabled: bool = True  # False: no sampling (the benchmark's idle anchor)


class StatsSource(Protocol):
    """What the sampler needs of a runtime (``runtimes.base.Runtime`` has it)."""

    async def stats(self) -> list[ContainerUsage]: ...


class StatsSampler:
    """Reads the runtime and the node every ``interval``; ``snapshot()`` is the newest view."""

    def __init__(
        self, runtime: StatsSource, node_name: str, settings: StatsSettings | None = None
    ) -> None:
        self.runtime = runtime
        self.node_name = node_name
        self.settings = settings or StatsSettings()
        self.cache = StatsCache()
        self.passes = 0  # completed passes (tests and the benchmark wait on it)
        self._containers: tuple[ContainerUsage, ...] = ()
        self._node_start = datetime.fromtimestamp(0, UTC)
        self._memory_capacity = 0
        self._errors = 0

    async def sample_once(self) -> None:
        """One pass: the node, then every running container."""
        node, self._node_start, self._memory_capacity = await asyncio.to_thread(read_node_usage)
        self.cache.record(NODE_KEY, node)
        try:
            containers = await self.runtime.stats()
        except Exception as exc:  # the engine went away: keep the last readings, say so
            log.warning("node %s: reading container stats failed: %s", self.node_name, exc)
            self._errors = 1
            return
        self._errors = 0
        for c in containers:
            self.cache.record(c.container_id, c.usage)
        self.cache.keep_only({NODE_KEY, *(c.container_id for c in containers)})
        self._containers = tuple(containers)
        self.passes += 1

    async def run(self) -> None:
        """Sample until cancelled; nothing at all when sampling is off."""
        if not self.settings.enabled:
            return
        while True:
            started = time.monotonic()
            try:
                await self.sample_once()
            except Exception:  # /proc unreadable, a bug: say it, the pods run on; try again
                log.exception("node %s: a stats pass failed", self.node_name)
            spent = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.settings.interval - spent))

    def snapshot(self) -> Snapshot:
        rated: list[tuple[ContainerUsage, Rated]] = []
        for c in self._containers:
            found = self.cache.rated(c.container_id)
            if found is not None:
                rated.append((c, found))
        return Snapshot(
            node_name=self.node_name,
            node_start=self._node_start,
            memory_capacity=self._memory_capacity,
            node=self.cache.rated(NODE_KEY),
            containers=tuple(rated),
            scrape_errors=self._errors,
        )

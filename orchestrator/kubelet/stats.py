"""The node agent's stats cache: the last two readings of every container and of the node.

cAdvisor, inside the kubelet, reads each container's cumulative CPU time
and memory every housekeeping interval and keeps recent samples in memory;
the CPU *rate* the Summary API reports (``usageNanoCores``) is the
difference of the last two cumulative readings over the time between them.
This module is that cache, without I/O: ``record`` takes a reading,
``rated`` gives the newest reading with its rate and the window it was
measured over (metrics-server's ``window``).

A counter that went backwards (a container restarted under the same key,
a cgroup made anew) has no rate until the next reading; neither has a key
read only once. Keys that are not in a sampling pass are forgotten, so a
removed container's readings do not stay in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.kubelet.runtimes.base import ResourceUsage

NODE_KEY = ""  # the node's own readings (container keys are container IDs)


@dataclass(frozen=True)
class Rated:
    """The newest reading of one key and the CPU rate ending at it."""

    latest: ResourceUsage
    nano_cores: int | None  # None: one reading only, or the counter went back
    window_ns: int | None  # the time between the two readings the rate came from


def cpu_rate(previous: ResourceUsage, latest: ResourceUsage) -> tuple[int, int] | None:
    """(nanocores, window in ns) between two readings; None when there is no honest rate."""
    if previous.cpu_ns is None or latest.cpu_ns is None:
        return None
    elapsed = latest.time_ns - previous.time_ns
    used = latest.cpu_ns - previous.cpu_ns
    if elapsed <= 0 or used < 0:
        return None
    return used * 1_000_000_000 // elapsed, elapsed


class StatsCache:
    """Last two readings per key; the kubelet's in-memory cache of cAdvisor samples."""

    def __init__(self) -> None:
        self._readings: dict[str, tuple[ResourceUsage | None, ResourceUsage]] = {}

    def record(self, key: str, usage: ResourceUsage) -> None:
        before = self._readings.get(key)
        if before is not None and usage.time_ns <= before[1].time_ns:
            return  # the same reading again (a runtime that caches): keep the window honest
        self._readings[key] = (before[1] if before is not None else None, usage)

    def keep_only(self, keys: set[str]) -> None:
        """Forget every key not in ``keys`` (containers that are gone)."""
        for key in [k for k in self._readings if k not in keys]:
            del self._readings[key]

    def rated(self, key: str) -> Rated | None:
        found = self._readings.get(key)
        if found is None:
            return None
        previous, latest = found
        rate = cpu_rate(previous, latest) if previous is not None else None
        if rate is None:
            return Rated(latest, None, None)
        return Rated(latest, rate[0], rate[1])

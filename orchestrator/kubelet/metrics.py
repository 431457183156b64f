"""The node agent's Prometheus metrics, with the kubelet's names.

- ``kubelet_running_pods`` and ``kubelet_running_containers{container_state}``:
  what the pod worker last saw of each pod on the runtime (``PodCounts``),
  read at scrape time;
- ``kubelet_pod_start_duration_seconds``: from the agent first seeing a pod
  to the status it reports saying Running (pods adopted already running
  after a restart are not counted, as the kubelet counts only starts it saw);
- ``kubelet_pod_worker_duration_seconds{operation}``: one pod worker pass,
  ``create`` (the first for a pod), ``sync`` or ``kill`` (a deleted pod).
"""

from __future__ import annotations

import weakref
from collections import Counter as Tally
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# the kubelet's buckets for pod start (0.5 s to an hour)
START_BUCKETS = (
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0,
    300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
)  # fmt: skip

POD_START = Histogram(
    "kubelet_pod_start_duration_seconds",
    "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
    buckets=START_BUCKETS,
)
POD_WORKER = Histogram(
    "kubelet_pod_worker_duration_seconds",
    "Duration in seconds to sync a single pod. Broken down by operation type: create, update, "
    "or sync",
    ["operation"],
)


class PodCounts:
    """One pod worker's view: uid -> the states of its containers (a pod with a sandbox)."""

    def __init__(self) -> None:
        self.pods: dict[str, tuple[str, ...]] = {}
        COUNTS.sources.add(self)

    def seen(self, uid: str, container_states: Iterable[str]) -> None:
        self.pods[uid] = tuple(container_states)

    def gone(self, uid: str) -> None:
        self.pods.pop(uid, None)


class _Collector(Collector):
    def __init__(self) -> None:
        self.sources: weakref.WeakSet[PodCounts] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pods = GaugeMetricFamily(
            "kubelet_running_pods", "Number of pods that have a running pod sandbox"
        )
        containers = GaugeMetricFamily(
            "kubelet_running_containers",
            "Number of containers currently running",
            labels=["container_state"],
        )
        running, states = 0, Tally[str]()
        for source in list(self.sources):
            for container_states in list(source.pods.values()):
                running += 1
                states.update(container_states)
        pods.add_metric([], running)
        for state in sorted({"running", "exited", "created", *states}):
            containers.add_metric([state], states.get(state, 0))
        yield pods
        yield containers


COUNTS = _Collector()
REGISTRY.register(COUNTS)

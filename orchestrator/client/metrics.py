"""The work queues' Prometheus metrics, with client-go's names (``workqueue_*{name}``).

Every controller's queue is named after its controller (Kubernetes' names:
``replicaset``, ``deployment``, ``endpoint``...); an unnamed queue records
nothing, as in client-go. Counters and histograms are updated by the queue
through label children it takes once (``QueueMetrics``); depth, unfinished
work and the longest running processor are read at scrape time from the
live queues (``QUEUES``), so they cost nothing per key and are never stale
(client-go refreshes the last two every 500 ms).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from orchestrator.client.workqueue import WorkQueue

# client-go's buckets: 10 ns to 10 s, by powers of ten
BUCKETS = tuple(10.0**exp for exp in range(-8, 2))

ADDS = Counter("workqueue_adds", "Total number of adds handled by workqueue", ["name"])
RETRIES = Counter("workqueue_retries", "Total number of retries handled by workqueue", ["name"])
QUEUE_DURATION = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested.",
    ["name"],
    buckets=BUCKETS,
)
WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes.",
    ["name"],
    buckets=BUCKETS,
)


class QueueMetrics:
    """One named queue's label children, taken once."""

    def __init__(self, name: str) -> None:
        self.adds = ADDS.labels(name)
        self.retries = RETRIES.labels(name)
        self.queue_duration = QUEUE_DURATION.labels(name)
        self.work_duration = WORK_DURATION.labels(name)


class _QueueCollector(Collector):
    """Depth, unfinished work and the longest running processor of the live named queues."""

    def __init__(self) -> None:
        self.queues: weakref.WeakSet[WorkQueue] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been "
            "observed by work_duration. Large values indicate stuck threads.",
            labels=["name"],
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            labels=["name"],
        )
        now = time.monotonic()
        totals: dict[str, list[float]] = {}
        for queue in list(self.queues):
            row = totals.setdefault(queue.name, [0.0, 0.0, 0.0])
            row[0] += len(queue)
            for started in queue.processing_since():
                row[1] += now - started
                row[2] = max(row[2], now - started)
        for name, (d, u, lng) in sorted(totals.items()):
            depth.add_metric([name], d)
            unfinished.add_metric([name], u)
            longest.add_metric([name], lng)
        yield depth
        yield unfinished
        yield longest


QUEUES = _QueueCollector()
REGISTRY.register(QUEUES)

"""The scheduler's Prometheus metrics, with kube-scheduler's names.

- ``scheduler_schedule_attempts_total{result,profile}``: every attempt to
  place a pod, ``scheduled``, ``unschedulable`` (no node fits) or ``error``
  (the binding failed);
- ``scheduler_scheduling_attempt_duration_seconds{result,profile}``: the
  attempt from taking the pod to its binding's answer;
- ``scheduler_pending_pods{queue}``: ``active`` (queued now) and
  ``unschedulable`` (waiting for a change in the cluster), read at scrape
  time from the live schedulers.

The profile is the scheduler's name (``default-scheduler``), as
kube-scheduler labels by profile.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# kube-scheduler's buckets: 1 ms doubling fifteen times (to about 16 s)
BUCKETS = tuple(0.001 * 2**i for i in range(15))

ATTEMPTS = Counter(
    "scheduler_schedule_attempts",
    "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not "
    "be scheduled, while 'error' means an internal scheduler problem.",
    ["result", "profile"],
)
ATTEMPT_DURATION = Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    ["result", "profile"],
    buckets=BUCKETS,
)

PendingCounts = Callable[[], dict[str, int]]


class _PendingCollector(Collector):
    def __init__(self) -> None:
        self.sources: weakref.WeakKeyDictionary[object, PendingCounts] = weakref.WeakKeyDictionary()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type.",
            labels=["queue"],
        )
        totals = {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}
        for counts in list(self.sources.values()):
            for queue, value in counts().items():
                totals[queue] = totals.get(queue, 0) + value
        for queue, value in totals.items():
            family.add_metric([queue], value)
        yield family


PENDING = _PendingCollector()
REGISTRY.register(PENDING)


def report_pending(owner: object, counts: PendingCounts) -> None:
    """Report ``counts()`` as scheduler_pending_pods while ``owner`` lives."""
    PENDING.sources[owner] = counts

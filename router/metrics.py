"""What the router counts per backend, and its Prometheus text (the autoscaler's input).

Per backend Service (labels ``namespace``, ``service``), the contract of
``paas.autoscaler.observed`` and ``paas.autoscaler.routers``:

- ``paas_router_concurrency_seconds_total`` (counter): the integral over time
  of the requests in flight, held ones included, computed up to the moment
  of the scrape, so the autoscaler's difference of two scrapes divided by
  the time between them is the average concurrency, whatever the interval;
- ``paas_router_held`` (gauge): requests held for want of a ready pod, or
  of a free slot on a backend that caps requests per pod (``router.capacity``);
- ``paas_router_in_flight`` (gauge), ``paas_router_requests_total{code}``
  (counter) and ``paas_router_request_duration_seconds`` (histogram).

Counting is plain attribute arithmetic on one object per backend (two
``time.monotonic`` reads a request); ``prometheus_client`` is used at scrape
time only, through a collector that turns these objects into metric
families (its per-request ``labels().inc()`` path costs more than the
router's whole budget for a request allows). A request counts as in flight
from its route being matched until its answer ends (a WebSocket: until the
101, its splice is not counted).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest

from router.ingressroutes import ServiceRef

# Prometheus' default buckets, plus the long ones a cold start or a slow app reaches.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
Backend = tuple[str, str]  # (namespace, service)


class BackendStats:
    __slots__ = ("area", "buckets", "codes", "count", "held", "in_flight", "since", "sum")

    def __init__(self) -> None:
        self.in_flight = 0
        self.held = 0
        self.area = 0.0  # concurrency-seconds up to ``since``
        self.since = time.monotonic()
        self.codes: dict[int, int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one: above every bound
        self.sum = 0.0
        self.count = 0

    def _move(self, now: float, change: int) -> None:
        self.area += self.in_flight * (now - self.since)
        self.since = now
        self.in_flight += change

    def begin(self) -> None:
        self._move(time.monotonic(), 1)

    def end(self, status: int, started: float) -> None:
        now = time.monotonic()
        self._move(now, -1)
        self.codes[status] = self.codes.get(status, 0) + 1
        duration = now - started
        self.buckets[bisect_left(BUCKETS, duration)] += 1
        self.sum += duration
        self.count += 1

    def concurrency_seconds(self, now: float) -> float:
        return self.area + self.in_flight * (now - self.since)


class RouterStats:
    """Every backend's stats, created on first use and kept (counters never go back)."""

    def __init__(self) -> None:
        self.backends: dict[Backend, BackendStats] = {}

    def of(self, ref: ServiceRef) -> BackendStats:
        key = (ref.namespace, ref.name)
        stats = self.backends.get(key)
        if stats is None:
            stats = self.backends[key] = BackendStats()
        return stats

    def collect(self) -> Iterator[Metric]:
        labels = ["namespace", "service"]
        seconds = CounterMetricFamily(
            "paas_router_concurrency_seconds",
            "Integral over time of requests in flight (held ones included), per backend",
            labels=labels,
        )
        held = GaugeMetricFamily(
            "paas_router_held",
            "Requests held for want of a ready endpoint or a free slot on one",
            labels=labels,
        )
        in_flight = GaugeMetricFamily(
            "paas_router_in_flight", "Requests in flight, held ones included", labels=labels
        )
        requests = CounterMetricFamily(
            "paas_router_requests", "Requests answered, by status code", labels=[*labels, "code"]
        )
        durations = HistogramMetricFamily(
            "paas_router_request_duration_seconds",
            "From the request's headers to the end of its answer",
            labels=labels,
        )
        now = time.monotonic()
        for (namespace, service), s in sorted(self.backends.items()):
            key = [namespace, service]
            seconds.add_metric(key, s.concurrency_seconds(now))
            held.add_metric(key, s.held)
            in_flight.add_metric(key, s.in_flight)
            for code, n in sorted(s.codes.items()):
                requests.add_metric([*key, str(code)], n)
            cumulative, buckets = 0, []
            for bound, n in zip((*map(str, BUCKETS), "+Inf"), s.buckets, strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            durations.add_metric(key, buckets, s.sum)
        yield from (seconds, held, in_flight, requests, durations)

    def text(self) -> bytes:
        """``/metrics``: Prometheus' text format."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry)

"""What the routers saw of each backend, turned into load samples for the windows.

Every request for an app passes through a router (the router is also the
activator), so the routers see each revision's whole concurrency; no
sidecar per pod is needed. Each router keeps, per backend Service, a
counter of concurrency-seconds (the integral over time of its requests in
flight, held ones included, as Knative counts the activator's) and a gauge
of requests held for want of a ready pod, on its metrics port in
Prometheus' text format:

    paas_router_concurrency_seconds_total{namespace="default",service="hello-00001"} 12.5
    paas_router_held{namespace="default",service="hello-00001"} 2

``Observed.take`` is given each router's text at each scrape and records,
per backend, the increase of the counter summed over the routers divided
by the time since the previous scrape of that router: the average
concurrency over that interval, for any scrape interval, with nothing lost
between scrapes. A counter that went down is a restarted router: its new
value is the increase. A router seen for the first time gives its base
line only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

CONCURRENCY = "paas_router_concurrency_seconds_total"
HELD = "paas_router_held"
Backend = tuple[str, str]  # (namespace, service)


@dataclass(frozen=True)
class RouterReading:
    concurrency_seconds: Mapping[Backend, float]
    held: Mapping[Backend, float]


def parse_reading(text: str) -> RouterReading:
    """The counters of one router's ``/metrics`` answer (ValueError if it is not the format)."""
    seconds: dict[Backend, float] = {}
    held: dict[Backend, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            target = {CONCURRENCY: seconds, HELD: held}.get(sample.name)
            if target is None:
                continue
            key = (sample.labels.get("namespace", ""), sample.labels.get("service", ""))
            target[key] = float(sample.value)
    return RouterReading(seconds, held)


@dataclass
class Observed:
    _last: dict[str, tuple[float, RouterReading]] = field(default_factory=dict)

    def take(self, readings: Mapping[str, RouterReading], now: float) -> dict[Backend, float]:
        """Average concurrency per backend since the previous scrape, summed over routers.

        ``readings`` maps each router (its address) to what it answered now;
        a router that did not answer is left out and keeps its base line.
        """
        load: dict[Backend, float] = {}
        for router, reading in readings.items():
            before = self._last.get(router)
            self._last[router] = (now, reading)
            if before is None:
                continue
            then, old = before
            elapsed = now - then
            if elapsed <= 0:
                continue
            for backend, total in reading.concurrency_seconds.items():
                previous = old.concurrency_seconds.get(backend, 0.0)
                grown = total - previous if total >= previous else total
                load[backend] = load.get(backend, 0.0) + grown / elapsed
        return load

    def held(self) -> dict[Backend, float]:
        """Requests held right now per backend, over the routers' last readings."""
        total: dict[Backend, float] = {}
        for _, reading in self._last.values():
            for backend, n in reading.held.items():
                total[backend] = total.get(backend, 0.0) + n
        return total

    def forget(self, routers: set[str]) -> None:
        """Drop the base lines of routers that are gone."""
        for router in set(self._last) - routers:
            del self._last[router]

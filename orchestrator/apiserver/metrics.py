"""The API server's Prometheus metrics, with Kubernetes' names, labels and buckets.

Recorded once per request in ``app.create_app`` from the request's
authorization ``Attributes`` (``authz.requestinfo.attributes_of``): the
path is parsed once, whoever needs it. What is recorded:

- ``apiserver_request_total{verb,group,version,resource,subresource,scope,component,code}``
  and ``apiserver_request_duration_seconds`` (same labels minus ``code``),
  when the answer has been sent (a watch: when it ends, as in Kubernetes).
  ``verb`` is Kubernetes' metrics verb: LIST, WATCH, GET, POST, PUT,
  PATCH, APPLY, DELETE, DELETECOLLECTION, CONNECT; ``scope`` is resource,
  namespace or cluster ("" for a non-resource path).
- ``apiserver_longrunning_requests``: watches, followed logs and streams open now.
- ``apiserver_current_inflight_requests{request_kind}``: read at scrape time
  from the in-flight counters (``inflight.InFlight``), nothing per request.
- ``apiserver_watch_events_total{group,version,kind}`` and
  ``apiserver_registered_watchers{group,version,kind}`` (``watch.stream``).
- ``apiserver_storage_objects{resource}``: counted by ``count_storage_objects``.

Label values come only from what the server serves: a path naming no
served resource is counted as resource ``other`` and an unknown
subresource as ``other``, so random URLs cannot grow the series without
bound. The two per-request series are plain dicts rendered at scrape time
(``Counts``, ``Durations``): with prometheus_client's children they cost
3 us a request, as much again as the rest of the recording.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.apiserver.authz.attributes import Attributes
from orchestrator.apiserver.inflight import InFlight

COMPONENT = "apiserver"
# Kubernetes' buckets for apiserver_request_duration_seconds and etcd_request_duration_seconds
BUCKETS = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
)  # fmt: skip
_LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")


class Counts(Collector):
    """A labelled counter kept as plain dict arithmetic, rendered at scrape time.

    The API server's request path is single-threaded (one event loop), so no
    lock: an increment is one dict update (0.1 us against prometheus_client's
    0.8 us for a cached child).
    """

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self.values: dict[tuple[str, ...], float] = {}
        REGISTRY.register(self)

    def inc(self, key: tuple[str, ...]) -> None:
        self.values[key] = self.values.get(key, 0.0) + 1.0

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, value in sorted(self.values.items()):
            family.add_metric(list(key), value)
        yield family


class Durations(Collector):
    """A labelled histogram kept as a list of bucket counts per label tuple (see ``Counts``)."""

    def __init__(
        self, name: str, documentation: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self.buckets = buckets
        self.rows: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., +Inf, sum
        REGISTRY.register(self)

    def observe(self, key: tuple[str, ...], seconds: float) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [0.0] * (len(self.buckets) + 2)
        row[bisect_left(self.buckets, seconds)] += 1.0
        row[-1] += seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        bounds = (*(str(b) for b in self.buckets), "+Inf")
        for key, row in sorted(self.rows.items()):
            cumulative, buckets = 0.0, list[tuple[str, float]]()
            for bound, hits in zip(bounds, row[:-1], strict=True):
                cumulative += hits
                buckets.append((bound, cumulative))
            family.add_metric(list(key), buckets, row[-1])
        yield family


REQUESTS = Counts(
    "apiserver_request",
    "Counter of apiserver requests broken out for each verb, dry run value, group, version, "
    "resource, scope, component, and HTTP response code.",
    (*_LABELS, "code"),
)
REQUEST_DURATION = Durations(
    "apiserver_request_duration_seconds",
    "Response latency distribution in seconds for each verb, group, version, resource, "
    "subresource, scope and component.",
    _LABELS,
    BUCKETS,
)
LONG_RUNNING = Gauge(
    "apiserver_longrunning_requests",
    "Gauge of all active long-running apiserver requests broken out by verb, group, version, "
    "resource, scope and component.",
    _LABELS,
)
WATCH_EVENTS = Counter(
    "apiserver_watch_events_total",
    "Number of events sent in watch clients",
    ["group", "version", "kind"],
)
WATCHERS = Gauge(
    "apiserver_registered_watchers",
    "Number of currently registered watchers for a given resources",
    ["group", "version", "kind"],
)
STORAGE_OBJECTS = Gauge(
    "apiserver_storage_objects",
    "Number of stored objects at the time of last check split by kind.",
    ["resource"],
)
ENCRYPTION_CONFIG_RELOADS = Counter(
    "apiserver_encryption_config_controller_automatic_reloads",
    "Total number of reload successes and failures of encryption configuration split by "
    "apiserver identity.",
    ["status"],
)

_SUBRESOURCES = frozenset(
    {
        "status", "scale", "log", "exec", "attach", "portforward", "proxy", "binding",
        "eviction", "token", "finalize", "ephemeralcontainers", "resize", "approval",
    }
)  # fmt: skip
_CONNECT = frozenset({"exec", "attach", "portforward", "proxy"})
_VERBS = {"list": "LIST", "watch": "WATCH", "get": "GET", "deletecollection": "DELETECOLLECTION"}
_METHOD_VERBS = {"POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE"}
_APPLY = "application/apply-patch"


class _InFlightCollector(Collector):
    """``apiserver_current_inflight_requests`` from the servers' counters, read at scrape time."""

    def __init__(self) -> None:
        self.sources: weakref.WeakSet[InFlight] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per "
            "request kind in last second.",
            labels=["request_kind"],
        )
        sources = list(self.sources)
        family.add_metric(["readOnly"], sum(s.reads for s in sources))
        family.add_metric(["mutating"], sum(s.writes for s in sources))
        yield family


INFLIGHT = _InFlightCollector()
REGISTRY.register(INFLIGHT)


def watch_inflight(inflight: InFlight) -> None:
    """Report ``inflight``'s counters as ``apiserver_current_inflight_requests``."""
    INFLIGHT.sources.add(inflight)


def metrics_verb(attrs: Attributes, method: str, content_type: str) -> str:
    """Kubernetes' verb label (``CleanVerb``): the method, LIST/WATCH for reads, APPLY, CONNECT."""
    if not attrs.resource_request:
        return method
    if attrs.subresource in _CONNECT:
        return "CONNECT"
    if method in ("GET", "HEAD"):
        return _VERBS.get(attrs.verb, "GET")
    if method == "PATCH" and content_type.startswith(_APPLY):
        return "APPLY"
    if attrs.verb == "deletecollection":
        return "DELETECOLLECTION"
    return _METHOD_VERBS.get(method, "other")


def request_labels(
    attrs: Attributes, verb: str, types: ResourceTypes
) -> tuple[str, str, str, str, str, str, str]:
    """The labels of one request, bounded by what ``types`` serves."""
    if not attrs.resource_request:
        return (verb, "", "", "", "", "", COMPONENT)
    rt: ResourceType | None = types.lookup(attrs.api_group, attrs.api_version, attrs.resource)
    if rt is None:
        return (verb, "", "", "other", "", "", COMPONENT)
    sub = attrs.subresource
    if sub and sub not in _SUBRESOURCES:
        sub = "other"
    scope = "resource" if attrs.name else "namespace" if attrs.namespace else "cluster"
    return (verb, attrs.api_group, attrs.api_version, attrs.resource, sub, scope, COMPONENT)


def observe_request(labels: tuple[str, ...], code: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    REQUEST_DURATION.observe(labels, seconds)
    REQUESTS.inc((*labels, str(code)))


def target_labels(
    rt: ResourceType,
    namespace: str,
    name: str,
    subresource: str,
    method: str,
    content_type: str,
    watching: bool,
) -> tuple[str, str, str, str, str, str, str]:
    """The labels of a request authorization did not look at (``system:masters``), from the
    dispatcher's own parse of the path (``routes.Target``): the same values, no second parse."""
    if subresource in _CONNECT:
        verb = "CONNECT"
    elif method in ("GET", "HEAD"):
        verb = "GET" if name else "WATCH" if watching else "LIST"
    elif method == "PATCH" and content_type.startswith(_APPLY):
        verb = "APPLY"
    elif method == "DELETE" and not name:
        verb = "DELETECOLLECTION"
    else:
        verb = _METHOD_VERBS.get(method, "other")
    sub = subresource if not subresource or subresource in _SUBRESOURCES else "other"
    scope = "resource" if name else "namespace" if namespace else "cluster"
    return (verb, rt.group, rt.version, rt.plural, sub, scope, COMPONENT)


def watch_children(rt: ResourceType) -> tuple[Any, Any]:
    """(events sent, watchers registered) children of ``rt``'s kind."""
    labels = (rt.group, rt.version, rt.kind)
    return WATCH_EVENTS.labels(*labels), WATCHERS.labels(*labels)


def storage_resource(rt: ResourceType) -> str:
    """``pods``, ``deployments.apps``: the ``resource`` label of apiserver_storage_objects."""
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural

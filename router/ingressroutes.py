"""The route table: which Service answers a (host, path), from the Ingresses we serve.

``build_routes(ingresses, classes, controller)`` is pure: it keeps the
Ingresses whose class is ours, flattens their rules into one table and sorts
each host's paths once, so that ``RouteTable.match`` is a dict lookup and a
short scan. The table is rebuilt whole on every Ingress or IngressClass
event (a frozen value swapped in one assignment: a request sees one table).

HTTPRoutes (``router.httproutes``) live in the same table, and precedence
between the two APIs goes by how specifically each names the request's host:
an HTTPRoute naming the exact host, then an Ingress naming it, then
HTTPRoute wildcards (longest suffix first), then the Ingress wildcard, then
host-less HTTPRoutes, then host-less Ingress rules and default backends. At
the same specificity the HTTPRoute wins when one of its rules matches the
request (path and headers); if none does, the Ingress is used as before. So
an App's branch can move from an Ingress to an HTTPRoute for the same host
with no failed request: create the HTTPRoute, wait for ``Accepted`` in its
status, then delete the Ingress. A more specific Ingress host (``git.<domain>``)
is never shadowed by a wildcard or host-less HTTPRoute.

Which Ingresses are ours (Kubernetes' rules, reference 1.3): ``spec.ingressClassName``
or the legacy ``kubernetes.io/ingress.class`` annotation names an IngressClass
whose ``spec.controller`` is ours. An Ingress with no class at all is ours
when one of our classes is the default (``ingressclass.kubernetes.io/is-default-class:
"true"``): Kubernetes' admission plugin would have filled the class in on
create, which our API server does not do, so the router reads it that way.

Matching, as Kubernetes documents it:

- Host: lowercased, port and trailing dot dropped. An exact rule host wins,
  then a wildcard ``*.suffix`` covering exactly one label, then host-less
  rules. Only the chosen host's paths are looked at.
- Paths: ``Exact`` is string equality (``/foo`` is not ``/foo/``); ``Prefix``
  (and ``ImplementationSpecific``, ours to define: the same) matches element
  by element on ``/``, a trailing slash ignored both ways (``/foo`` matches
  ``/foo``, ``/foo/`` and ``/foo/bar``, never ``/foobar``). The longest rule
  path wins (a Prefix path counted without its trailing slash), then Exact
  over Prefix, then the oldest Ingress (creationTimestamp, then
  namespace/name), as ingress-nginx lets the oldest win a duplicate path.
- No path matches: the default backend of the oldest of that host's
  Ingresses that has one, else of the oldest Ingress with one at all; none:
  ``match`` returns None (our 404).

A backend naming a ``resource`` instead of a Service is kept as a route with
``service`` None, so that the request gets a 500 saying why rather than
falling through to another rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from orchestrator.api.objects import Obj

if TYPE_CHECKING:
    from router.httproutes import GatewayTable

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
_EXACT, _PREFIX = "Exact", "Prefix"


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """A backend Service and its port as the Ingress names it (a number or a port name)."""

    namespace: str
    name: str
    port: int | str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}"


@dataclass(frozen=True, slots=True)
class Route:
    """One path of one rule: what a request that matches it is sent to."""

    path: str  # as written; "" for a default backend
    path_type: str  # Exact, Prefix, ImplementationSpecific, or "default"
    service: ServiceRef | None  # None: a backend we do not serve (the request gets a 500)
    source: str  # namespace/name of the Ingress or HTTPRoute, for logs and error pages
    unsupported: str = ""  # why service is None
    kind: str = "Ingress"  # or "HTTPRoute"
    timeout: float = 0.0  # the route's request timeout in seconds (0: the router's defaults)


@dataclass(frozen=True, slots=True)
class _Entry:
    route: Route
    prefix: bool
    norm: str  # the path compared: a Prefix path without its trailing slash
    age: tuple[str, str]  # (creationTimestamp, namespace/name): the older wins ties


@dataclass(frozen=True)
class HostRoutes:
    entries: tuple[_Entry, ...]  # longest path first, Exact before Prefix, oldest first
    default: Route | None

    def match(self, path: str) -> Route | None:
        for entry in self.entries:
            if path_matches(entry.norm, entry.prefix, path):
                return entry.route
        return self.default


@dataclass(frozen=True)
class RouteTable:
    exact: Mapping[str, HostRoutes] = field(default_factory=lambda: MappingProxyType({}))
    wildcard: Mapping[str, HostRoutes] = field(default_factory=lambda: MappingProxyType({}))
    any_host: HostRoutes | None = None
    default: Route | None = None  # the cluster-wide default backend
    ingresses: int = 0  # how many Ingresses are served
    gateway: GatewayTable | None = None  # the HTTPRoutes' candidates (router.httproutes)

    def match(self, host: str, path: str, headers: Any = ()) -> Route | None:
        """The route for a request, or None: nothing matches and there is no default.

        ``headers`` (the request's, as received) are read only by HTTPRoute header matches.
        """
        host = normalize_host(host)
        path = path.split("?", 1)[0]
        gateway = self.gateway
        if gateway is not None:
            route = gateway.match_exact(host, path, headers)
            if route is not None:
                return route
        routes = self.exact.get(host)
        if routes is not None:
            return routes.match(path)
        if gateway is not None:
            route = gateway.match_wildcard(host, path, headers)
            if route is not None:
                return route
        if "." in host:
            routes = self.wildcard.get(host.split(".", 1)[1])
        if routes is None and gateway is not None:
            route = gateway.match_any(path, headers)
            if route is not None:
                return route
        if routes is None:
            routes = self.any_host
        if routes is None:
            return self.default
        return routes.match(path)

    def hosts(self) -> list[str]:
        """The hosts with rules, for the 404 page: exact ones, then ``*.suffix``."""
        hosts = sorted(self.exact) + [f"*.{s}" for s in sorted(self.wildcard)]
        if self.gateway is not None:
            hosts += [h for h in self.gateway.hosts() if h not in hosts]
        return hosts


def normalize_host(host: str) -> str:
    """``Web.Example.com:8080`` -> ``web.example.com``; ``[::1]:80`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def path_matches(rule: str, prefix: bool, path: str) -> bool:
    """Kubernetes' Prefix (element-wise) or Exact match of a request path."""
    if not prefix:
        return path == rule
    if not rule:  # the root: everything
        return True
    return path == rule or (path.startswith(rule) and path[len(rule)] == "/")


# -- building -------------------------------------------------------------------------


def our_classes(classes: Iterable[Obj], controller: str) -> tuple[set[str], bool]:
    """(names of IngressClasses with our controller, whether one of them is the default)."""
    names, default = set(), False
    for cls in classes:
        if _dict(cls.get("spec")).get("controller") != controller:
            continue
        meta = _dict(cls.get("metadata"))
        names.add(str(meta.get("name", "")))
        annotations = _dict(meta.get("annotations"))
        default = default or annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"
    return names, default


def is_ours(ingress: Obj, names: set[str], default: bool) -> bool:
    """Whether the Ingress's class (field, else legacy annotation, else default) is ours."""
    wanted = _dict(ingress.get("spec")).get("ingressClassName")
    if wanted is None:
        annotations = _dict(_dict(ingress.get("metadata")).get("annotations"))
        wanted = annotations.get(LEGACY_CLASS_ANNOTATION)
    return default if wanted is None else wanted in names


def build_routes(ingresses: Iterable[Obj], classes: Iterable[Obj], controller: str) -> RouteTable:
    """The table of every path of every Ingress of ours (never raises on odd objects)."""
    names, default_class = our_classes(classes, controller)
    by_host: dict[str, list[_Entry]] = {}
    defaults_by_host: dict[str, list[tuple[tuple[str, str], Route]]] = {}
    defaults: list[tuple[tuple[str, str], Route]] = []
    served = 0
    for ing in ingresses:
        if not is_ours(ing, names, default_class):
            continue
        served += 1
        meta, spec = _dict(ing.get("metadata")), _dict(ing.get("spec"))
        namespace = str(meta.get("namespace", ""))
        key = f"{namespace}/{meta.get('name', '')}"
        age = (str(meta.get("creationTimestamp", "")), key)
        default = None
        if isinstance(spec.get("defaultBackend"), dict):
            default = _route("", "default", spec["defaultBackend"], namespace, key)
            defaults.append((age, default))
        for rule in _list(spec.get("rules")):
            rule = _dict(rule)
            host = normalize_host(str(rule.get("host") or ""))
            entries = by_host.setdefault(host, [])
            if default is not None:
                defaults_by_host.setdefault(host, []).append((age, default))
            for p in _list(_dict(rule.get("http")).get("paths")):
                p = _dict(p)
                path, path_type = p.get("path") or "/", p.get("pathType")
                if not isinstance(path, str) or path_type not in (
                    _EXACT,
                    _PREFIX,
                    "ImplementationSpecific",
                ):
                    continue
                route = _route(path, str(path_type), p.get("backend"), namespace, key)
                prefix = path_type != _EXACT
                norm = path.rstrip("/") if prefix else path
                entries.append(_Entry(route, prefix, norm, age))
    exact: dict[str, HostRoutes] = {}
    wildcard: dict[str, HostRoutes] = {}
    any_host = None
    fallback = min(defaults, key=_first)[1] if defaults else None
    for host, entries in by_host.items():
        host_defaults = defaults_by_host.get(host)
        routes = HostRoutes(
            tuple(sorted(entries, key=_order)),
            min(host_defaults, key=_first)[1] if host_defaults else fallback,
        )
        if not host:
            any_host = routes
        elif host.startswith("*."):
            wildcard[host[2:]] = routes
        else:
            exact[host] = routes
    return RouteTable(
        MappingProxyType(exact), MappingProxyType(wildcard), any_host, fallback, served
    )


def _order(entry: _Entry) -> tuple[int, bool, tuple[str, str]]:
    return (-len(entry.norm), entry.prefix, entry.age)


def _first(item: tuple[tuple[str, str], Route]) -> tuple[str, str]:
    return item[0]


def _route(path: str, path_type: str, backend: Any, namespace: str, ingress: str) -> Route:
    backend = _dict(backend)
    service = backend.get("service")
    if not isinstance(service, dict):
        resource = _dict(backend.get("resource"))
        why = f"backend {resource.get('kind', '?')}/{resource.get('name', '?')} is not a Service"
        return Route(path, path_type, None, ingress, unsupported=why)
    port = _dict(service.get("port"))
    number = port.get("number")
    ref = ServiceRef(namespace, str(service.get("name", "")), number or str(port.get("name", "")))
    return Route(path, path_type, ref, ingress)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

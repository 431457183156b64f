"""Gateway API routes: which HTTPRoutes attach to our Gateways, and the table they make.

``build_gateway(classes, gateways, routes, controller, services)`` is pure:
it finds the GatewayClasses whose ``controllerName`` is ours, their
Gateways' listeners, and the HTTPRoutes whose ``parentRefs`` name those
Gateways, and returns both the ``GatewayTable`` that requests are matched
against and the status every one of those objects should show
(``GatewayView``). It is rebuilt whole on any event of those kinds.

Attachment (reference 2.1-2.4): a parentRef (group/kind default Gateway,
namespace default the route's) names a Gateway of one of our classes; a
``sectionName`` narrows it to that listener and a ``port`` to listeners on
that port. A listener takes the route when its protocol is HTTP, its
``allowedRoutes.namespaces.from`` admits the route's namespace (``Same``,
the default, or ``All``; ``Selector`` is not served and admits nothing)
and its ``allowedRoutes.kinds`` (if any) list HTTPRoute, and when their
hostnames intersect. Intersection, where a Gateway wildcard ``*.x`` covers
**one or more** labels (unlike Ingress's one): a listener without hostname
takes the route's hostnames as they are; ``*.example.com`` and
``x.y.example.com`` give ``x.y.example.com``; ``*.com`` and
``*.example.com`` give ``*.example.com``; a route without hostnames takes
the listener's. Route hostnames that do not intersect are ignored on that
listener. Listener isolation (a request served only by the most specific
listener's routes) is not done: our Gateway has one listener.

Matching: each (effective host, rule, match) is a candidate, filed under
its host: exact hosts in a dict, ``*.suffix`` in another (a request host is
looked up by its suffixes, longest first) and host-less ones apart. Within
one host, candidates rank as Gateway API says: Exact path over prefix,
longer prefix, more header matches, older route, ``namespace/name``, then
rule and match order. ``PathPrefix`` is Ingress's Prefix (element-wise on
``/``); header matches are exact values, names case-insensitive, the first
of duplicated request headers counting.

Backends: a matched rule picks one backendRef per request at random in
proportion to the weights (integer arithmetic over their sum; weight 0
gets nothing). A backendRef that is not a Service, or in another namespace
(ReferenceGrant is not served), still takes its share and that share is
answered 500, as is a rule with no backendRef or only zero weights; the
route stays ``Accepted`` and shows ``ResolvedRefs`` False with the reason.
``timeouts.request`` becomes the route's timeout (``0s``: none of its own).
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from orchestrator.api.objects import Obj
from router.ingressroutes import Route, ServiceRef, path_matches

GROUP = "gateway.networking.k8s.io"
HTTPROUTE = "HTTPRoute"
Key = tuple[str, str]  # (namespace, name); ("", name) for a GatewayClass
Headers = tuple[tuple[bytes, bytes], ...]
_DURATION = re.compile(r"([0-9]{1,5})(h|ms|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


# -- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backends:
    """A rule's backendRefs: one is picked per request, in proportion to the weights."""

    routes: tuple[Route, ...]
    bounds: tuple[int, ...]  # cumulative weights
    total: int

    def pick(self) -> Route:
        routes = self.routes
        if len(routes) == 1:
            return routes[0]
        return routes[bisect_right(self.bounds, random.randrange(self.total))]


@dataclass(frozen=True, slots=True)
class Candidate:
    norm: str  # the path compared: a prefix without its trailing slash
    prefix: bool
    headers: Headers  # (lowercased name, value) pairs that must all be present
    backends: Backends

    def matches(self, path: str, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        if not path_matches(self.norm, self.prefix, path):
            return False
        for name, value in self.headers:
            if _header(headers, name) != value:
                return False
        return True


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def _first(candidates: tuple[Candidate, ...], path: str, headers: Any) -> Route | None:
    for candidate in candidates:
        if candidate.matches(path, headers):
            return candidate.backends.pick()
    return None


@dataclass(frozen=True)
class GatewayTable:
    exact: Mapping[str, tuple[Candidate, ...]]
    wildcard: Mapping[str, tuple[Candidate, ...]]  # by suffix: "example.com" for *.example.com
    any_host: tuple[Candidate, ...] = ()

    def match_exact(self, host: str, path: str, headers: Any) -> Route | None:
        candidates = self.exact.get(host)
        return _first(candidates, path, headers) if candidates else None

    def match_wildcard(self, host: str, path: str, headers: Any) -> Route | None:
        if not self.wildcard:
            return None
        dot = host.find(".")
        while dot >= 0:
            candidates = self.wildcard.get(host[dot + 1 :])
            if candidates:
                route = _first(candidates, path, headers)
                if route is not None:
                    return route
            dot = host.find(".", dot + 1)
        return None

    def match_any(self, path: str, headers: Any) -> Route | None:
        return _first(self.any_host, path, headers) if self.any_host else None

    def hosts(self) -> list[str]:
        return sorted(self.exact) + [f"*.{s}" for s in sorted(self.wildcard)]


# -- hostnames --------------------------------------------------------------------------------


def intersect(listener: str, route: str) -> str | None:
    """The hostname both accept ("" = any), or None; Gateway wildcards cover 1+ labels."""
    if not listener or listener == route:
        return route
    if not route:
        return listener
    if listener.startswith("*."):
        if route.startswith("*."):
            if route.endswith(listener[1:]):
                return route
            return listener if listener.endswith(route[1:]) else None
        return route if route.endswith(listener[1:]) else None
    if route.startswith("*."):
        return listener if listener.endswith(route[1:]) else None
    return None


def parse_duration(value: Any) -> float | None:
    """Gateway API's ``1h30m``, ``500ms``, ``300s`` in seconds; None if not that form."""
    if not isinstance(value, str) or not value:
        return None
    total, pos = 0.0, 0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            return None
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(value) else None


# -- attachment and status --------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    gateway: Key
    name: str
    hostname: str
    port: int
    protocol: str
    from_: str  # allowedRoutes.namespaces.from
    kinds_ok: bool  # allowedRoutes.kinds admit HTTPRoute


@dataclass
class GatewayView:
    """The route table and the status each of our objects should have (conditions unstamped)."""

    table: GatewayTable | None
    classes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> conditions
    gateways: dict[Key, dict[str, Any]] = field(default_factory=dict)  # -> status (no addresses)
    routes: dict[Key, list[dict[str, Any]]] = field(default_factory=dict)  # -> our parents[]
    route_count: int = 0


def condition(type_: str, ok: bool, reason: str, message: str, generation: int) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    }


def build_gateway(
    classes: Iterable[Obj],
    gateways: Iterable[Obj],
    routes: Iterable[Obj],
    controller: str,
    service_exists: Callable[[str, str], bool],
) -> GatewayView:
    view = GatewayView(None)
    ours = set()
    for cls in classes:
        if _dict(cls.get("spec")).get("controllerName") != controller:
            continue
        meta = _dict(cls.get("metadata"))
        ours.add(meta.get("name"))
        view.classes[str(meta.get("name"))] = [
            condition("Accepted", True, "Accepted", "Handled by paas router", _gen(cls))
        ]
    listeners: dict[Key, list[Listener]] = {}
    generations: dict[Key, int] = {}
    for gw in gateways:
        spec = _dict(gw.get("spec"))
        if spec.get("gatewayClassName") not in ours:
            continue
        key = _key(gw)
        generations[key] = _gen(gw)
        listeners[key] = [_listener(key, _dict(item)) for item in _list(spec.get("listeners"))]
    attached: dict[tuple[Key, str], int] = {}
    exact: dict[str, list[tuple[tuple[Any, ...], Candidate]]] = {}
    wildcard: dict[str, list[tuple[tuple[Any, ...], Candidate]]] = {}
    any_host: list[tuple[tuple[Any, ...], Candidate]] = []
    for route in routes:
        key = _key(route)
        spec = _dict(route.get("spec"))
        generation = _gen(route)
        hostnames = [h.lower() for h in _list(spec.get("hostnames")) if isinstance(h, str)]
        parents: list[dict[str, Any]] = []
        effective: set[str] = set()
        for ref in _list(spec.get("parentRefs")):
            ref = _dict(ref)
            gw_key = (str(ref.get("namespace") or key[0]), str(ref.get("name", "")))
            if ref.get("group", GROUP) != GROUP or ref.get("kind", "Gateway") != "Gateway":
                continue
            if gw_key not in listeners:
                continue  # not a Gateway of ours (or none at all): not ours to report on
            accepted, reason, message, hosts = _attach(
                key[0], hostnames, ref, listeners[gw_key], attached
            )
            effective |= hosts
            parents.append(
                {
                    "parentRef": ref,
                    "controllerName": controller,
                    "conditions": [condition("Accepted", accepted, reason, message, generation)],
                }
            )
        if not parents:
            continue
        view.route_count += 1
        rules, problems = _rules(key, spec, route, service_exists)
        resolved = condition(
            "ResolvedRefs",
            not problems,
            problems[0][0] if problems else "ResolvedRefs",
            "; ".join(m for _, m in problems) if problems else "All references resolved",
            generation,
        )
        for parent in parents:
            parent["conditions"].append(resolved)
        view.routes[key] = parents
        age = (str(_dict(route.get("metadata")).get("creationTimestamp", "")), f"{key[0]}/{key[1]}")
        for host in effective:
            for index, (rank, candidate) in enumerate(rules):
                entry = ((*rank[:3], age, *rank[3:], index), candidate)
                if not host:
                    any_host.append(entry)
                elif host.startswith("*."):
                    wildcard.setdefault(host[2:], []).append(entry)
                else:
                    exact.setdefault(host, []).append(entry)
    for gw_key, items in listeners.items():
        view.gateways[gw_key] = _gateway_status(items, attached, generations[gw_key])
    if exact or wildcard or any_host:
        view.table = GatewayTable(
            MappingProxyType({h: _sorted(c) for h, c in exact.items()}),
            MappingProxyType({h: _sorted(c) for h, c in wildcard.items()}),
            _sorted(any_host),
        )
    return view


def _listener(gateway: Key, item: dict[str, Any]) -> Listener:
    allowed = _dict(item.get("allowedRoutes"))
    kinds = _list(allowed.get("kinds"))
    kinds_ok = not kinds or any(
        _dict(k).get("kind") == HTTPROUTE and _dict(k).get("group", GROUP) == GROUP for k in kinds
    )
    return Listener(
        gateway,
        str(item.get("name", "")),
        str(item.get("hostname") or "").lower(),
        int(item.get("port") or 0),
        str(item.get("protocol", "")),
        str(_dict(allowed.get("namespaces")).get("from") or "Same"),
        kinds_ok,
    )


def _serves(listener: Listener) -> bool:
    return listener.protocol == "HTTP" and listener.kinds_ok


def _attach(
    namespace: str,
    hostnames: list[str],
    ref: dict[str, Any],
    listeners: list[Listener],
    attached: dict[tuple[Key, str], int],
) -> tuple[bool, str, str, set[str]]:
    """(accepted, reason, message, effective hostnames) of one parentRef."""
    section, port = ref.get("sectionName"), ref.get("port")
    named = [
        lst
        for lst in listeners
        if (section is None or lst.name == section) and (port is None or lst.port == port)
    ]
    if not named:
        return False, "NoMatchingParent", "No listener matches the parentRef", set()
    allowed = [
        lst
        for lst in named
        if _serves(lst)
        and (lst.from_ == "All" or (lst.from_ == "Same" and lst.gateway[0] == namespace))
    ]
    if not allowed:
        return (
            False,
            "NotAllowedByListeners",
            "No listener allows routes from this namespace",
            set(),
        )
    hosts: set[str] = set()
    took = False
    for lst in allowed:
        found = {
            h for h in (intersect(lst.hostname, r) for r in hostnames or [""]) if h is not None
        }
        if found:
            took = True
            hosts |= found
            attached[(lst.gateway, lst.name)] = attached.get((lst.gateway, lst.name), 0) + 1
    if not took:
        return (
            False,
            "NoMatchingListenerHostname",
            "No hostname of the route intersects a listener's hostname",
            set(),
        )
    return True, "Accepted", "Route is accepted", hosts


def _rules(
    key: Key, spec: dict[str, Any], route: Obj, service_exists: Callable[[str, str], bool]
) -> tuple[list[tuple[tuple[Any, ...], Candidate]], list[tuple[str, str]]]:
    """Candidates with their rank (before age), and the backendRef problems (reason, message)."""
    out: list[tuple[tuple[Any, ...], Candidate]] = []
    problems: list[tuple[str, str]] = []
    source = f"{key[0]}/{key[1]}"
    rules = _list(spec.get("rules")) or [{}]
    for rule_index, rule in enumerate(rules):
        rule = _dict(rule)
        timeout = parse_duration(_dict(rule.get("timeouts")).get("request")) or 0.0
        backends = _backends(key[0], source, rule, timeout, service_exists, problems)
        matches = _list(rule.get("matches")) or [{}]
        for match_index, match in enumerate(matches):
            match = _dict(match)
            path = _dict(match.get("path"))
            path_type = path.get("type", "PathPrefix")
            value = path.get("value", "/")
            if path_type not in ("Exact", "PathPrefix") or not isinstance(value, str):
                continue  # RegularExpression is not served
            prefix = path_type == "PathPrefix"
            norm = value.rstrip("/") if prefix else value
            headers = tuple(
                (str(h.get("name", "")).lower().encode("latin-1"), str(h.get("value", "")).encode())
                for h in (_dict(h) for h in _list(match.get("headers")))
                if h.get("type", "Exact") == "Exact"
            )
            rank = (prefix, -len(norm), -len(headers), rule_index, match_index)
            out.append((rank, Candidate(norm, prefix, headers, backends)))
    return out, problems


def _backends(
    namespace: str,
    source: str,
    rule: dict[str, Any],
    timeout: float,
    service_exists: Callable[[str, str], bool],
    problems: list[tuple[str, str]],
) -> Backends:
    routes: list[Route] = []
    bounds: list[int] = []
    total = 0
    refs = _list(rule.get("backendRefs"))
    for ref in refs:
        ref = _dict(ref)
        name = str(ref.get("name", ""))
        weight = ref.get("weight", 1)
        weight = weight if isinstance(weight, int) and weight > 0 else 0
        group, kind = ref.get("group", ""), ref.get("kind", "Service")
        ref_ns = str(ref.get("namespace") or namespace)
        port = ref.get("port")
        why, reason = "", ""
        if group not in ("", "core") or kind != "Service":
            reason, why = "InvalidKind", f"backendRef {kind}/{name} is not a Service"
        elif ref_ns != namespace:
            reason = "RefNotPermitted"
            why = (
                f"backendRef {ref_ns}/{name} is in another namespace (ReferenceGrant is not served)"
            )
        elif not isinstance(port, int):
            reason, why = "UnsupportedValue", f"backendRef {name} has no port"
        elif not service_exists(ref_ns, name):
            problems.append(("BackendNotFound", f"Service {ref_ns}/{name} not found"))
        if reason:
            problems.append((reason, why))
        if weight == 0:
            continue
        service = None if reason else ServiceRef(ref_ns, name, port)  # type: ignore[arg-type]
        routes.append(Route("", "rule", service, source, why, HTTPROUTE, timeout))
        total += weight
        bounds.append(total)
    if not routes:
        why = "the rule has no backendRefs" if not refs else "every backendRef has weight 0"
        return Backends((Route("", "rule", None, source, why, HTTPROUTE, timeout),), (1,), 1)
    return Backends(tuple(routes), tuple(bounds), total)


def _gateway_status(
    items: list[Listener], attached: dict[tuple[Key, str], int], generation: int
) -> dict[str, Any]:
    listeners = []
    valid = 0
    for lst in items:
        ok = lst.protocol == "HTTP"
        valid += ok
        reason = "Accepted" if ok else "UnsupportedProtocol"
        message = "Listener is accepted" if ok else f"protocol {lst.protocol} is not served"
        listeners.append(
            {
                "name": lst.name,
                "supportedKinds": [{"group": GROUP, "kind": HTTPROUTE}] if ok else [],
                "attachedRoutes": attached.get((lst.gateway, lst.name), 0),
                "conditions": [
                    condition("Accepted", ok, reason, message, generation),
                    condition(
                        "ResolvedRefs", True, "ResolvedRefs", "References resolved", generation
                    ),
                    condition(
                        "Programmed",
                        ok,
                        "Programmed" if ok else "Invalid",
                        "Listener is programmed" if ok else message,
                        generation,
                    ),
                ],
            }
        )
    ok = valid > 0
    reason = "Accepted" if valid == len(items) else "ListenersNotValid"
    return {
        "conditions": [
            condition("Accepted", ok, reason, "Gateway is accepted" if ok else reason, generation),
            condition(
                "Programmed",
                ok,
                "Programmed" if ok else "Invalid",
                "Gateway is programmed" if ok else "no valid listener",
                generation,
            ),
        ],
        "listeners": listeners,
    }


def _sorted(entries: list[tuple[tuple[Any, ...], Candidate]]) -> tuple[Candidate, ...]:
    return tuple(c for _, c in sorted(entries, key=lambda e: e[0]))


def _key(obj: Obj) -> Key:
    meta = _dict(obj.get("metadata"))
    return str(meta.get("namespace") or ""), str(meta.get("name", ""))


def _gen(obj: Obj) -> int:
    generation = _dict(obj.get("metadata")).get("generation")
    return generation if isinstance(generation, int) else 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

"""HTTPRoute attachment, matching and status as pure functions, as tables of cases."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from router.httproutes import build_gateway, intersect, parse_duration
from router.ingressroutes import build_routes

CONTROLLER = "paas.dev/router"


def gclass(name: str = "paas", controller: str = CONTROLLER) -> Any:
    return {"metadata": {"name": name}, "spec": {"controllerName": controller}}


def gw(
    hostname: str | None = None, from_: str = "All", protocol: str = "HTTP", cls: str = "paas"
) -> Any:
    listener: dict[str, Any] = {
        "name": "http",
        "port": 8080,
        "protocol": protocol,
        "allowedRoutes": {"namespaces": {"from": from_}},
    }
    if hostname:
        listener["hostname"] = hostname
    return {
        "metadata": {"name": "paas", "namespace": "paas-system", "generation": 1},
        "spec": {"gatewayClassName": cls, "listeners": [listener]},
    }


def backend(name: str, weight: int = 1, **extra: Any) -> Any:
    return {"group": "", "kind": "Service", "name": name, "port": 80, "weight": weight, **extra}


def hroute(
    name: str,
    hostnames: list[str],
    rules: list[Any],
    namespace: str = "default",
    created: str = "2026-01-01T00:00:00Z",
) -> Any:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generation": 2,
            "creationTimestamp": created,
        },
        "spec": {
            "parentRefs": [{"namespace": "paas-system", "name": "paas"}],
            "hostnames": hostnames,
            "rules": rules,
        },
    }


def rule(*backends: Any, path: str = "/", type_: str = "PathPrefix", **extra: Any) -> Any:
    return {
        "matches": [{"path": {"type": type_, "value": path}, **extra}],
        "backendRefs": list(backends),
    }


def view(*routes: Any, gateway: Any = None, services: set[str] | None = None) -> Any:
    known = services if services is not None else {"a", "b", "c"}
    return build_gateway(
        [gclass()],
        [gateway or gw()],
        list(routes),
        CONTROLLER,
        lambda _ns, name: name in known,
    )


def served(v: Any, host: str, path: str = "/", headers: Any = ()) -> str | None:
    table = build_routes([], [], CONTROLLER)

    route = dataclasses.replace(table, gateway=v.table).match(host, path, headers)
    if route is None:
        return None
    return route.service.name if route.service else f"500:{route.unsupported}"


@pytest.mark.parametrize(
    ("listener", "route", "wanted"),
    [
        ("", "a.example.com", "a.example.com"),
        ("a.example.com", "a.example.com", "a.example.com"),
        ("*.example.com", "x.y.example.com", "x.y.example.com"),
        ("x.y.example.com", "*.example.com", "x.y.example.com"),
        ("*.com", "*.example.com", "*.example.com"),
        ("*.example.com", "*.com", "*.example.com"),
        ("a.example.com", "", "a.example.com"),
        ("very.specific.com", "*.specific.com", "very.specific.com"),
        ("wildcard.io", "*.wildcard.io", None),
        ("a.example.com", "b.example.com", None),
    ],
)
def test_hostname_intersection(listener: str, route: str, wanted: str | None) -> None:
    assert intersect(listener, route) == wanted


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300s", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), ("0s", 0.0), ("1x", None), ("", None)],
)
def test_gateway_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_weights_split_requests_in_proportion_and_zero_gets_nothing() -> None:
    v = view(hroute("r", ["h.test"], [rule(backend("a", 90), backend("b", 10), backend("c", 0))]))
    seen = Counter(served(v, "h.test") for _ in range(5000))
    assert set(seen) == {"a", "b"}
    assert 0.07 < seen["b"] / 5000 < 0.13


def test_exact_path_beats_prefix_and_longer_prefix_beats_shorter() -> None:
    v = view(
        hroute(
            "r",
            ["h.test"],
            [
                rule(backend("a"), path="/"),
                rule(backend("b"), path="/api"),
                rule(backend("c"), path="/api/v1", type_="Exact"),
            ],
        )
    )
    assert served(v, "h.test", "/api/v1") == "c"
    assert served(v, "h.test", "/api/v1/x") == "b"
    assert served(v, "h.test", "/apix") == "a"
    assert served(v, "H.Test:8080", "/api") == "b"  # host case and port ignored


def test_header_match_wins_over_none_and_names_are_case_insensitive() -> None:
    canary = rule(backend("b"), headers=[{"name": "X-Canary", "value": "1"}])
    v = view(hroute("r", ["h.test"], [rule(backend("a")), canary]))
    assert served(v, "h.test", "/", [(b"x-canary", b"1")]) == "b"
    assert served(v, "h.test", "/", [(b"X-CANARY", b"2")]) == "a"
    assert served(v, "h.test", "/") == "a"


def test_gateway_wildcard_host_covers_several_labels() -> None:
    v = view(hroute("r", ["*.example.com"], [rule(backend("a"))]))
    assert served(v, "x.y.example.com") == "a"
    assert served(v, "example.com") is None


def test_listener_hostname_limits_what_a_route_serves() -> None:
    v = view(
        hroute("r", ["*.specific.com"], [rule(backend("a"))]),
        gateway=gw(hostname="very.specific.com"),
    )
    assert served(v, "very.specific.com") == "a"
    assert served(v, "foo.specific.com") is None


def test_httproute_wins_over_an_ingress_for_the_same_host() -> None:
    ingress = {
        "metadata": {"name": "old", "namespace": "default", "creationTimestamp": "2020"},
        "spec": {
            "ingressClassName": "paas",
            "rules": [
                {
                    "host": "shop.localhost",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "old", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    classes = [{"metadata": {"name": "paas"}, "spec": {"controller": CONTROLLER}}]
    table = build_routes([ingress], classes, CONTROLLER)

    assert table.match("shop.localhost", "/").service.name == "old"  # type: ignore[union-attr]
    v = view(hroute("new", ["shop.localhost"], [rule(backend("a"))]))
    both = dataclasses.replace(table, gateway=v.table)
    assert both.match("shop.localhost", "/").service.name == "a"  # type: ignore[union-attr]
    # a catch-all HTTPRoute does not shadow an Ingress's exact host
    v = view(hroute("all", [], [rule(backend("a"))]))
    both = dataclasses.replace(table, gateway=v.table)
    assert both.match("shop.localhost", "/").service.name == "old"  # type: ignore[union-attr]
    assert both.match("other.localhost", "/").service.name == "a"  # type: ignore[union-attr]


def test_bad_backend_refs_take_their_share_as_500_and_show_in_resolved_refs() -> None:
    v = view(
        hroute(
            "r",
            ["h.test"],
            [rule(backend("a"), {"group": "example.com", "kind": "Bucket", "name": "x"})],
        )
    )
    seen = Counter((served(v, "h.test") or "")[:4] for _ in range(400))
    assert set(seen) == {"a", "500:"}
    parents = v.routes[("default", "r")]
    accepted, resolved = parents[0]["conditions"]
    assert (accepted["type"], accepted["status"], accepted["reason"]) == (
        "Accepted",
        "True",
        "Accepted",
    )
    assert (resolved["status"], resolved["reason"]) == ("False", "InvalidKind")
    assert accepted["observedGeneration"] == 2
    assert parents[0]["controllerName"] == CONTROLLER


def test_missing_service_is_backend_not_found_and_zero_weights_are_500() -> None:
    v = view(hroute("r", ["h.test"], [rule(backend("ghost", 1))]), services=set())
    resolved = v.routes[("default", "r")][0]["conditions"][1]
    assert (resolved["status"], resolved["reason"]) == ("False", "BackendNotFound")
    v = view(hroute("r", ["h.test"], [rule(backend("a", 0))]))
    assert served(v, "h.test") == "500:every backendRef has weight 0"


@pytest.mark.parametrize(
    ("gateway", "hostnames", "reason"),
    [
        (gw(from_="Same"), ["h.test"], "NotAllowedByListeners"),
        (gw(hostname="other.test"), ["h.test"], "NoMatchingListenerHostname"),
        (gw(protocol="HTTPS"), ["h.test"], "NotAllowedByListeners"),
    ],
)
def test_routes_a_listener_refuses_are_not_accepted(
    gateway: Any, hostnames: list[str], reason: str
) -> None:
    v = view(hroute("r", hostnames, [rule(backend("a"))]), gateway=gateway)
    accepted = v.routes[("default", "r")][0]["conditions"][0]
    assert (accepted["status"], accepted["reason"]) == ("False", reason)
    assert v.table is None


def test_routes_on_other_gateways_are_not_ours() -> None:
    v = build_gateway(
        [gclass(), gclass("other", "example.com/other")],
        [gw(cls="other")],
        [hroute("r", ["h.test"], [rule(backend("a"))])],
        CONTROLLER,
        lambda _ns, _n: True,
    )
    assert v.routes == {} and v.gateways == {} and v.table is None
    assert list(v.classes) == ["paas"]


def test_gateway_status_counts_attached_routes() -> None:
    v = view(
        hroute("r1", ["a.test"], [rule(backend("a"))]),
        hroute("r2", ["b.test"], [rule(backend("b"))]),
    )
    status = v.gateways[("paas-system", "paas")]
    assert [c["type"] for c in status["conditions"]] == ["Accepted", "Programmed"]
    assert all(c["status"] == "True" for c in status["conditions"])
    assert status["listeners"][0]["attachedRoutes"] == 2

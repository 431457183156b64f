"""The route table: Kubernetes' Ingress matching rules, as tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from router.backends import resolve
from router.ingressroutes import ServiceRef, build_routes, normalize_host

CONTROLLER = "paas.dev/router"


def klass(name: str = "paas", controller: str = CONTROLLER, default: bool = True) -> Any:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"controller": controller},
    }


def ing(
    name: str,
    rules: list[Any],
    *,
    cls: str | None = "paas",
    created: str = "2026-01-01T00:00:00Z",
    default: str | None = None,
) -> Any:
    spec: dict[str, Any] = {"rules": rules}
    if cls is not None:
        spec["ingressClassName"] = cls
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    return {
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
        "spec": spec,
    }


def rule(host: str | None, *paths: tuple[str, str, str]) -> Any:
    r: dict[str, Any] = {
        "http": {
            "paths": [
                {
                    "path": p,
                    "pathType": t,
                    "backend": {"service": {"name": s, "port": {"number": 80}}},
                }
                for p, t, s in paths
            ]
        }
    }
    if host:
        r["host"] = host
    return r


def served(table: Any, host: str, path: str) -> str | None:
    route = table.match(host, path)
    return None if route is None or route.service is None else route.service.name


# The Kubernetes documentation's examples (concepts/services-networking/ingress, "Examples").
@pytest.mark.parametrize(
    ("paths", "request_path", "expected"),
    [
        ([("/", "Prefix", "a")], "/anything", "a"),
        ([("/foo", "Exact", "a")], "/foo", "a"),
        ([("/foo", "Exact", "a")], "/bar", None),
        ([("/foo", "Exact", "a")], "/foo/", None),
        ([("/foo/", "Exact", "a")], "/foo", None),
        ([("/foo", "Prefix", "a")], "/foo", "a"),
        ([("/foo", "Prefix", "a")], "/foo/", "a"),
        ([("/foo/", "Prefix", "a")], "/foo", "a"),
        ([("/foo/", "Prefix", "a")], "/foo/", "a"),
        ([("/aaa/bb", "Prefix", "a")], "/aaa/bbb", None),
        ([("/aaa/bbb", "Prefix", "a")], "/aaa/bbb", "a"),
        ([("/aaa/bbb/", "Prefix", "a")], "/aaa/bbb", "a"),
        ([("/aaa/bbb", "Prefix", "a")], "/aaa/bbb/", "a"),
        ([("/aaa/bbb", "Prefix", "a")], "/aaa/bbb/ccc", "a"),
        ([("/aaa/bbb", "Prefix", "a")], "/aaa/bbbxyz", None),
        ([("/", "Prefix", "a"), ("/aaa", "Prefix", "b")], "/aaa/ccc", "b"),
        (
            [("/", "Prefix", "a"), ("/aaa", "Prefix", "b"), ("/aaa/bbb", "Prefix", "c")],
            "/aaa/bbb",
            "c",
        ),
        ([("/", "Prefix", "a"), ("/aaa", "Prefix", "b"), ("/aaa/bbb", "Prefix", "c")], "/ccc", "a"),
        ([("/aaa", "Prefix", "a")], "/ccc", None),
        ([("/foo", "Prefix", "a"), ("/foo", "Exact", "b")], "/foo", "b"),
        ([("/foo", "Prefix", "a"), ("/foo", "Exact", "b")], "/foo/x", "a"),
        # our choice where the spec is silent (nginx's): Exact /foo beats Prefix /foo/
        ([("/foo/", "Prefix", "a"), ("/foo", "Exact", "b")], "/foo", "b"),
        ([("/api", "ImplementationSpecific", "a")], "/api/v1", "a"),
        ([("/api", "ImplementationSpecific", "a")], "/apiv1", None),
        ([("/x", "Prefix", "a")], "/x?q=1", "a"),
    ],
)
def test_paths_match_as_kubernetes_documents(
    paths: list[tuple[str, str, str]], request_path: str, expected: str | None
) -> None:
    table = build_routes([ing("i", [rule("a.test", *paths)])], [klass()], CONTROLLER)
    assert served(table, "a.test", request_path) == expected


def test_yaml_order_does_not_decide_between_paths() -> None:
    paths = [("/aaa/bbb", "Prefix", "c"), ("/", "Prefix", "a"), ("/aaa", "Prefix", "b")]
    table = build_routes([ing("i", [rule("a.test", *paths)])], [klass()], CONTROLLER)
    assert [served(table, "a.test", p) for p in ("/aaa/bbb/x", "/aaa/x", "/x")] == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("foo.example.com", "exact"),
        ("FOO.example.com:8080", "exact"),
        ("foo.example.com.", "exact"),
        ("bar.example.com", "wild"),
        ("baz.bar.example.com", "any"),
        ("example.com", "any"),
        ("other.test", "any"),
    ],
)
def test_exact_host_beats_one_label_wildcard_beats_host_less_rules(
    host: str, expected: str
) -> None:
    rules = [
        rule("*.example.com", ("/", "Prefix", "wild")),
        rule("foo.example.com", ("/", "Prefix", "exact")),
        rule(None, ("/", "Prefix", "any")),
    ]
    table = build_routes([ing("i", rules)], [klass()], CONTROLLER)
    assert served(table, host, "/") == expected


def test_unknown_host_without_default_backend_matches_nothing() -> None:
    table = build_routes([ing("i", [rule("a.test", ("/", "Prefix", "a"))])], [klass()], CONTROLLER)
    assert table.match("b.test", "/") is None
    assert table.hosts() == ["a.test"]


def test_default_backend_takes_what_no_rule_matches() -> None:
    ingresses = [ing("i", [rule("a.test", ("/api", "Prefix", "api"))], default="fallback")]
    table = build_routes(ingresses, [klass()], CONTROLLER)
    assert served(table, "a.test", "/other") == "fallback"
    assert served(table, "b.test", "/") == "fallback"


def test_oldest_ingress_wins_a_duplicate_path() -> None:
    young = ing("young", [rule("a.test", ("/", "Prefix", "young"))], created="2026-02-01T00:00:00Z")
    old = ing("old", [rule("a.test", ("/", "Prefix", "old"))], created="2026-01-01T00:00:00Z")
    table = build_routes([young, old], [klass()], CONTROLLER)
    assert served(table, "a.test", "/") == "old"


@pytest.mark.parametrize(
    ("cls", "classes", "ours"),
    [
        ("paas", [klass()], True),
        ("nginx", [klass(), klass("nginx", "k8s.io/ingress-nginx", False)], False),
        ("missing", [klass()], False),
        (None, [klass()], True),  # class-less: ours while our class is the default
        (None, [klass(default=False)], False),
        ("other-name", [klass("other-name", default=False)], True),  # any class of ours
    ],
)
def test_only_ingresses_of_our_classes_are_served(
    cls: str | None, classes: list[Any], ours: bool
) -> None:
    table = build_routes(
        [ing("i", [rule("a.test", ("/", "Prefix", "a"))], cls=cls)], classes, CONTROLLER
    )
    assert (served(table, "a.test", "/") == "a") is ours


def test_legacy_class_annotation_is_honoured() -> None:
    obj = ing("i", [rule("a.test", ("/", "Prefix", "a"))], cls=None)
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert build_routes([obj], [klass()], CONTROLLER).match("a.test", "/") is None


def test_resource_backend_is_a_route_without_a_service() -> None:
    obj = ing("i", [])
    obj["spec"]["defaultBackend"] = {
        "resource": {"apiGroup": "x.io", "kind": "Bucket", "name": "b"}
    }
    route = build_routes([obj], [klass()], CONTROLLER).match("a.test", "/")
    assert route is not None and route.service is None and "Bucket/b" in route.unsupported


@pytest.mark.parametrize(
    ("raw", "host"),
    [("A.Test:8080", "a.test"), ("[::1]:8080", "::1"), ("a.test.", "a.test"), ("", "")],
)
def test_hosts_are_normalized(raw: str, host: str) -> None:
    assert normalize_host(raw) == host


SVC = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 9000}]},
}
EPS = {
    "subsets": [
        {
            "addresses": [{"ip": "127.0.0.5"}, {"ip": "127.0.0.6"}],
            "notReadyAddresses": [{"ip": "127.0.0.7"}],
            "ports": [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}],
        }
    ]
}


@pytest.mark.parametrize(
    ("port", "addresses", "problem"),
    [
        (80, (("127.0.0.5", 8080), ("127.0.0.6", 8080)), ""),
        ("admin", (("127.0.0.5", 9090), ("127.0.0.6", 9090)), ""),
        (81, (), "has no port 81"),
    ],
)
def test_backend_port_by_number_or_name_resolves_to_ready_endpoints(
    port: int | str, addresses: tuple[Any, ...], problem: str
) -> None:
    result = resolve(ServiceRef("default", "web", port), SVC, EPS)
    assert result.addresses == addresses
    assert problem in result.problem


def test_backend_without_ready_endpoints_says_so() -> None:
    eps = {
        "subsets": [
            {"notReadyAddresses": [{"ip": "127.0.0.7"}], "ports": [{"name": "http", "port": 1}]}
        ]
    }
    result = resolve(ServiceRef("default", "web", 80), SVC, eps)
    assert result.problem == "Service default/web has no ready endpoint (1 not ready)"
    missing = resolve(ServiceRef("default", "gone", 80), None, None)
    assert missing.problem == "Service default/gone does not exist"

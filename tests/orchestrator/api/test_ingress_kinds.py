"""Ingress and IngressClass as built-in kinds: served, defaulted, validated, printed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.api.defaults import apply_defaults
from orchestrator.api.tables import build_table
from orchestrator.api.validation import validate, validate_update
from tests.support.apiserver import RunningAPI

ING = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
CLASSES = "/apis/networking.k8s.io/v1/ingressclasses"


def ingress(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }


def backend(**port: Any) -> dict[str, Any]:
    return {"service": {"name": "web", "port": port or {"number": 80}}}


def rule(host: str | None, *paths: tuple[str, str]) -> dict[str, Any]:
    r: dict[str, Any] = {
        "http": {"paths": [{"path": p, "pathType": t, "backend": backend()} for p, t in paths]}
    }
    if host is not None:
        r["host"] = host
    return r


def fields(obj: dict[str, Any], kind: str = "Ingress.networking.k8s.io") -> list[str]:
    return [c.field for c in validate(kind, obj, namespaced=kind.startswith("Ingress."))]


def test_valid_ingress_has_no_causes() -> None:
    obj = ingress(
        ingressClassName="paas",
        rules=[
            rule("a.example.com", ("/", "Prefix"), ("/x", "Exact")),
            rule("*.apps.example.com", ("/api", "ImplementationSpecific")),
        ],
    )
    assert fields(obj) == []


def test_ingress_without_rules_or_default_backend_is_refused() -> None:
    assert fields(ingress()) == ["spec.rules"]


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("a.example.com", True),
        ("*.example.com", True),
        ("10.0.0.1", False),
        ("*", False),
        ("A.example.com", False),
        ("a.*.example.com", False),
    ],
)
def test_rule_hosts_are_dns_names_or_one_label_wildcards(host: str, ok: bool) -> None:
    causes = fields(ingress(rules=[rule(host, ("/", "Prefix"))]))
    assert (causes == []) is ok, causes


@pytest.mark.parametrize(
    ("path", "path_type", "bad"),
    [
        ("foo", "Prefix", True),
        ("/a//b", "Prefix", True),
        ("/a/../b", "Exact", True),
        ("/a%2Fb", "Prefix", True),
        ("/a/.", "Exact", True),
        ("/a//b", "ImplementationSpecific", False),
        ("/a", "Regex", True),
    ],
)
def test_paths_are_absolute_and_clean_for_exact_and_prefix(
    path: str, path_type: str, bad: bool
) -> None:
    causes = fields(ingress(rules=[rule(None, (path, path_type))]))
    assert bool(causes) is bad, causes


def test_path_without_path_type_is_refused() -> None:
    obj = ingress(rules=[{"http": {"paths": [{"path": "/", "backend": backend()}]}}])
    assert fields(obj) == ["spec.rules[0].http.paths[0].pathType"]


def test_backend_needs_a_port_by_name_or_number_not_both() -> None:
    both = ingress(defaultBackend=backend(number=80, name="http"))
    assert fields(both) == ["spec.defaultBackend.service.port"]
    none = ingress(defaultBackend={"service": {"name": "web"}})
    assert fields(none) == ["spec.defaultBackend.service.port"]
    bad_number = ingress(defaultBackend=backend(number=70000))
    assert fields(bad_number) == ["spec.defaultBackend.service.port.number"]


def test_ingress_class_needs_a_domain_prefixed_controller_that_never_changes() -> None:
    kind = "IngressClass.networking.k8s.io"
    good = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "paas"},
        "spec": {"controller": "paas.dev/router"},
    }
    assert fields(good, kind) == []
    assert fields({**good, "spec": {"controller": "router"}}, kind) == ["spec.controller"]
    changed = {**good, "spec": {"controller": "paas.dev/other"}}
    assert [c.field for c in validate_update(kind, good, changed)] == ["spec.controller"]


def test_ingress_class_parameters_default_to_cluster_scope() -> None:
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "x"},
        "spec": {"controller": "a.io/b", "parameters": {"kind": "K", "name": "n"}},
    }
    assert apply_defaults("IngressClass", obj)["spec"]["parameters"]["scope"] == "Cluster"


def test_ingress_table_shows_class_hosts_and_address() -> None:
    obj = ingress(ingressClassName="paas", rules=[rule("a.localhost", ("/", "Prefix"))])
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}
    table = build_table("Ingress", [obj], now=datetime.now(UTC))
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert table["rows"][0]["cells"][:5] == ["web", "paas", "a.localhost", "127.0.0.1", "80"]


def test_api_serves_ingress_and_ingress_class(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        resources = http.get("/apis/networking.k8s.io/v1").json()["resources"]
        names = {r["name"]: r for r in resources}
        assert names["ingresses"]["namespaced"] is True
        assert "ing" in names["ingresses"]["shortNames"]
        assert names["ingressclasses"]["namespaced"] is False
        created = http.post(
            CLASSES,
            json={
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": "paas"},
                "spec": {"controller": "paas.dev/router"},
            },
        )
        assert created.status_code == 201, created.text
        obj = ingress(ingressClassName="paas", rules=[rule("a.localhost", ("/", "Prefix"))])
        made = http.post(ING, json=obj)
        assert made.status_code == 201, made.text
        assert made.json()["metadata"]["generation"] == 1
        status = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}
        body = {**made.json(), "status": status}
        updated = http.put(f"{ING}/web/status", json=body)
        assert updated.status_code == 200, updated.text
        assert http.get(f"{ING}/web").json()["status"] == status
        refused = http.post(ING, json={**obj, "metadata": {"name": "bad"}, "spec": {}})
        assert refused.status_code == 422
        assert "either `defaultBackend` or `rules` must be specified" in refused.text

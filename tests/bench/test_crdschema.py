"""The benchmark's Knative-sized CRD: accepted, as large as Knative's, and its object valid."""

from __future__ import annotations

import json

from bench import crdschema
from orchestrator.apiserver.crds.catalogue import build_strategy
from orchestrator.apiserver.crds.definition import default_definition, validate_definition
from orchestrator.apiserver.crds.strategy import CustomStrategy


def strategy() -> CustomStrategy:
    crd = default_definition(crdschema.crd())
    version = crd["spec"]["versions"][0]
    return build_strategy(crd, version, version)


def namespaced(obj: dict) -> dict:
    obj["metadata"]["namespace"] = "bench"
    return obj


def test_bench_crd_is_a_valid_definition() -> None:
    assert validate_definition(default_definition(crdschema.crd())) == []


def test_bench_schema_is_about_the_size_of_knatives_service() -> None:
    schema_size, object_size = crdschema.sizes()
    assert 90_000 <= schema_size <= 130_000
    assert 2_000 <= object_size <= 4_000


def test_bench_object_is_valid_and_loses_no_field_to_pruning() -> None:
    s = strategy()
    obj = namespaced(crdschema.service("shop"))
    sent = json.loads(json.dumps(obj))
    assert s.unknown_fields(obj) == []
    assert obj == sent
    s.default(obj)
    assert s.validate(obj, namespaced=True) == []
    ports = obj["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]


def test_bench_schema_rules_run_on_every_create() -> None:
    s = strategy()
    obj = namespaced(crdschema.service("shop"))
    obj["spec"]["traffic"][1]["percent"] = 20
    s.default(obj)
    causes = s.validate(obj, namespaced=True)
    assert [(c.field, c.message) for c in causes] == [
        ("spec", 'Invalid value: "object": traffic percentages must add up to 100')
    ]

"""HorizontalPodAutoscaler objects: defaults, validation and the v1 <-> v2 conversion."""

from __future__ import annotations

import json

import pytest

from orchestrator.api.autoscaling.conversion import BEHAVIOR, METRICS, to_v1, to_v2
from orchestrator.api.autoscaling.defaults import default_v2
from orchestrator.api.autoscaling.strategy import hpa_strategy

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def v2(**spec: object) -> dict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"scaleTargetRef": REF, "maxReplicas": 4, **spec},
    }


def messages(obj: dict, version: str = "v2") -> list[str]:
    strategy = hpa_strategy(version)
    return [
        f"{c.field}: {c.message}" for c in strategy.validate(strategy.default(obj), namespaced=True)
    ]


def test_defaults_fill_min_replicas_a_cpu_target_and_given_behavior() -> None:
    out = default_v2(v2(behavior={"scaleDown": {"stabilizationWindowSeconds": 5}}))
    spec = out["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"][0]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 80},
    }
    assert spec["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 5,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
    assert spec["behavior"]["scaleUp"]["policies"] == [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ]
    assert "behavior" not in default_v2(v2())["spec"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"minReplicas": 1, "maxReplicas": 0},
            "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
        ),
        (
            {"minReplicas": 0},
            "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
        ),
        ({"scaleTargetRef": {"name": "web"}}, "spec.scaleTargetRef.kind: Required value"),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 0},
                        },
                    }
                ]
            },
            "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: "
            "must be greater than 0",
        ),
        (
            {"metrics": [{"type": "Bogus"}]},
            'spec.metrics[0].type: Unsupported value: "Bogus": supported values: '
            '"ContainerResource", "External", "Object", "Pods", "Resource"',
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization"}},
                    }
                ]
            },
            "spec.metrics[0].resource.target.averageUtilization: Required value: must set either "
            "a target raw value or a target utilization",
        ),
        (
            {
                "behavior": {
                    "scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1801}]}
                }
            },
            "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less "
            "than or equal to 1800",
        ),
        (
            {"behavior": {"scaleDown": {"selectPolicy": "Most"}}},
            'spec.behavior.scaleDown.selectPolicy: Unsupported value: "Most": supported values: '
            '"Disabled", "Max", "Min"',
        ),
    ],
)
def test_bad_specs_are_named_in_kubernetes_words(spec: dict, expected: str) -> None:
    assert expected in messages(v2(**spec))


def test_a_good_spec_passes() -> None:
    assert (
        messages(v2(minReplicas=2, behavior={"scaleDown": {"stabilizationWindowSeconds": 5}})) == []
    )


def test_v1_cpu_target_is_a_v2_cpu_utilization_metric_and_back() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": REF, "maxReplicas": 4, "targetCPUUtilizationPercentage": 50},
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 3,
            "currentCPUUtilizationPercentage": 70,
        },
    }
    stored = to_v2(v1)
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    assert stored["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 70
    back = to_v1(stored)
    assert back["spec"] == v1["spec"]
    assert back["status"]["currentCPUUtilizationPercentage"] == 70


def test_v2_only_content_survives_a_v1_round_trip_in_annotations() -> None:
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
    }
    cpu = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
    }
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 5}}
    original = v2(minReplicas=1, metrics=[memory, cpu], behavior=behavior)
    seen = to_v1(original)
    annotations = seen["metadata"]["annotations"]
    assert json.loads(annotations[METRICS]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}
    ]
    assert json.loads(annotations[BEHAVIOR]) == behavior
    assert seen["spec"]["targetCPUUtilizationPercentage"] == 60
    seen["spec"]["maxReplicas"] = 6  # a v1 client's edit
    again = to_v2(seen)
    assert again["spec"]["metrics"] == [memory, cpu]
    assert again["spec"]["behavior"] == behavior
    assert again["spec"]["maxReplicas"] == 6
    assert "annotations" not in again["metadata"]


def test_v1_without_a_target_gets_the_implicit_80_percent() -> None:
    strategy = hpa_strategy("v1")
    body = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"scaleTargetRef": REF, "maxReplicas": 3},
    }
    assert strategy.default(body)["spec"]["targetCPUUtilizationPercentage"] == 80
    assert strategy.unknown_fields({**body, "spec": {**body["spec"], "metrics": []}}) == [
        "spec.metrics"
    ]


def test_v1_objects_read_back_from_protobuf_as_the_same_json() -> None:
    from orchestrator.api.protobuf import decode_object, encode_object

    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": REF,
            "minReplicas": 1,
            "maxReplicas": 4,
            "targetCPUUtilizationPercentage": 50,
        },
        "status": {"currentReplicas": 0, "desiredReplicas": 0},
    }
    assert decode_object(encode_object(v1)) == v1

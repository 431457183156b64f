"""Defaults and validation of webhook configurations, in Kubernetes' words and paths."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.apiserver.admission.configuration import (
    default_configuration,
    validate_configuration,
)


def hook(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "labels.example.com",
        "clientConfig": {"url": "https://127.0.0.1:8443/mutate"},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def config(*hooks: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "labels"},
        "webhooks": list(hooks),
    }


def messages(obj: dict[str, Any], *, mutating: bool = True) -> list[str]:
    defaulted = default_configuration(obj, mutating=mutating)
    return [f"{c.field}: {c.message}" for c in validate_configuration(defaulted, mutating=mutating)]


def test_defaults_fill_policies_timeout_selectors_scope_and_port() -> None:
    obj = config(hook(clientConfig={"service": {"namespace": "ns", "name": "svc"}}))
    out = default_configuration(obj, mutating=True)["webhooks"][0]
    assert out["failurePolicy"] == "Fail"
    assert out["matchPolicy"] == "Equivalent"
    assert out["timeoutSeconds"] == 10
    assert out["namespaceSelector"] == {} and out["objectSelector"] == {}
    assert out["reinvocationPolicy"] == "Never"
    assert out["rules"][0]["scope"] == "*"
    assert out["clientConfig"]["service"]["port"] == 443
    assert "port" not in obj["webhooks"][0]["clientConfig"]["service"]  # input untouched


def test_validating_configurations_get_no_reinvocation_policy() -> None:
    out = default_configuration(config(hook()), mutating=False)["webhooks"][0]
    assert "reinvocationPolicy" not in out


def test_defaults_keep_what_was_set() -> None:
    obj = config(hook(failurePolicy="Ignore", timeoutSeconds=3))
    out = default_configuration(obj, mutating=True)["webhooks"][0]
    assert (out["failurePolicy"], out["timeoutSeconds"]) == ("Ignore", 3)


def test_a_complete_configuration_is_valid() -> None:
    assert messages(config(hook(), hook(name="second.example.com"))) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": None}, "webhooks[0].name: Required value"),
        (
            {"name": "short.name"},
            'webhooks[0].name: Invalid value: "short.name": '
            "should be a domain with at least three segments separated by dots",
        ),
        (
            {"clientConfig": {}},
            "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
        ),
        (
            {"clientConfig": {"url": "http://example.com/x"}},
            'webhooks[0].clientConfig.url: Invalid value: "http": '
            "'https' is the only allowed URL scheme; desired format: https://host[/path]",
        ),
        (
            {"clientConfig": {"url": "https://example.com/x?a=b"}},
            'webhooks[0].clientConfig.url: Invalid value: "a=b": '
            "query parameters are not permitted in the URL",
        ),
        (
            {"clientConfig": {"url": "https://u@example.com/x"}},
            'webhooks[0].clientConfig.url: Invalid value: "u": '
            "user information is not permitted in the URL",
        ),
        (
            {"clientConfig": {"service": {"namespace": "ns", "name": "svc", "port": 70000}}},
            "webhooks[0].clientConfig.service.port: Invalid value: 70000: "
            "port is not valid: must be between 1 and 65535, inclusive",
        ),
        (
            {"clientConfig": {"service": {"namespace": "ns", "name": "svc", "path": "/a//b"}}},
            'webhooks[0].clientConfig.service.path: Invalid value: "/a//b": '
            "segment[1] may not be empty",
        ),
        (
            {"sideEffects": None},
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
        ),
        (
            {"sideEffects": "Some"},
            'webhooks[0].sideEffects: Unsupported value: "Some": '
            'supported values: "None", "NoneOnDryRun"',
        ),
        (
            {"admissionReviewVersions": None},
            "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
        ),
        (
            {"admissionReviewVersions": ["v2"]},
            'webhooks[0].admissionReviewVersions: Invalid value: ["v2"]: '
            "must include at least one of v1, v1beta1",
        ),
        (
            {"timeoutSeconds": 31},
            "webhooks[0].timeoutSeconds: Invalid value: 31: "
            "the timeout value must be between 1 and 30 seconds",
        ),
        (
            {"failurePolicy": "Maybe"},
            'webhooks[0].failurePolicy: Unsupported value: "Maybe": '
            'supported values: "Fail", "Ignore"',
        ),
        (
            {"reinvocationPolicy": "Always"},
            'webhooks[0].reinvocationPolicy: Unsupported value: "Always": '
            'supported values: "IfNeeded", "Never"',
        ),
    ],
)
def test_each_rule_is_reported_as_kubernetes_reports_it(
    fields: dict[str, Any], expected: str
) -> None:
    assert messages(config(hook(**fields))) == [expected]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"operations": ["PATCH"]},
            'webhooks[0].rules[0].operations[0]: Unsupported value: "PATCH": '
            'supported values: "*", "CONNECT", "CREATE", "DELETE", "UPDATE"',
        ),
        (
            {"operations": ["*", "CREATE"]},
            'webhooks[0].rules[0].operations: Invalid value: ["*","CREATE"]: '
            "if '*' is present, must not specify other operations",
        ),
        ({"apiGroups": []}, "webhooks[0].rules[0].apiGroups: Required value"),
        (
            {"resources": ["*/*", "pods"]},
            'webhooks[0].rules[0].resources: Invalid value: ["*/*","pods"]: '
            "if '*/*' is present, must not specify other resources",
        ),
        (
            {"resources": ["*", "pods"]},
            'webhooks[0].rules[0].resources: Invalid value: ["*","pods"]: '
            "if '*' is present, must not specify other resources without subresources",
        ),
        (
            {"resources": ["pods/*", "pods/status"]},
            'webhooks[0].rules[0].resources[1]: Invalid value: "pods/status": '
            "if 'pods/*' is present, must not specify pods/status",
        ),
        (
            {"scope": "Somewhere"},
            'webhooks[0].rules[0].scope: Unsupported value: "Somewhere": '
            'supported values: "*", "Cluster", "Namespaced"',
        ),
    ],
)
def test_rule_checks(rule: dict[str, Any], expected: str) -> None:
    base = hook()["rules"][0]
    assert messages(config(hook(rules=[{**base, **rule}]))) == [expected]


def test_webhook_names_are_unique_within_a_configuration() -> None:
    assert messages(config(hook(), hook())) == [
        'webhooks[1].name: Duplicate value: "labels.example.com"'
    ]


def test_selectors_are_checked() -> None:
    selector = {"matchExpressions": [{"key": "env", "operator": "In"}]}
    assert messages(config(hook(objectSelector=selector))) == [
        "webhooks[0].objectSelector.matchExpressions[0].values: "
        "Required value: must be specified when `operator` is 'In' or 'NotIn'"
    ]


def test_all_problems_are_reported_at_once() -> None:
    bad = hook(name="x", sideEffects=None, timeoutSeconds=0)
    fields = [m.split(":")[0] for m in messages(config(bad))]
    assert fields == ["webhooks[0].name", "webhooks[0].sideEffects", "webhooks[0].timeoutSeconds"]


def test_null_fields_are_defaulted_like_absent_ones() -> None:
    obj = config(hook())
    obj["webhooks"][0]["objectSelector"] = None
    obj["webhooks"][0]["timeoutSeconds"] = None
    out = default_configuration(obj, mutating=True)["webhooks"][0]
    assert (out["objectSelector"], out["timeoutSeconds"]) == ({}, 10)

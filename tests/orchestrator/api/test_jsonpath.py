"""client-go's JSONPath subset as printer columns evaluate it (cases after util/jsonpath's)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.jsonpath import JSONPathError, compile_jsonpath

CRONTAB: dict[str, Any] = {
    "apiVersion": "stable.example.com/v1",
    "kind": "CronTab",
    "metadata": {
        "name": "c1",
        "labels": {"app.kubernetes.io/name": "cron", "tier": "web"},
        "annotations": {"a.b": "dotted"},
    },
    "spec": {
        "cronSpec": "* * * * */5",
        "replicas": 3,
        "ratio": 0.5,
        "suspend": False,
        "ports": [80, 443, 8080],
        "containers": [
            {"name": "main", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox", "ports": [{"containerPort": 9090}]},
        ],
        "note": None,
    },
    "status": {
        "conditions": [
            {"type": "Available", "status": "False", "priority": 2},
            {"type": "Ready", "status": "True", "priority": 5},
        ],
    },
}


def find(expression: str, obj: Any = CRONTAB) -> list[Any]:
    return compile_jsonpath(expression).find(obj)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".spec.replicas", [3]),
        ("{.spec.replicas}", [3]),
        (".metadata.name", ["c1"]),
        (".spec.containers[0].image", ["nginx:1"]),
        (".spec.containers[-1].name", ["side"]),
        (".spec.containers[*].name", ["main", "side"]),
        (".spec.ports[0:2]", [80, 443]),
        (".spec.ports[1:]", [443, 8080]),
        (".spec.ports[::2]", [80, 8080]),
        (".spec.ports[0,2]", [80, 8080]),
        (".metadata.labels['app.kubernetes.io/name']", ["cron"]),
        (".metadata.labels['app\\.kubernetes\\.io/name']", ["cron"]),  # Knative's CRDs write it so
        ('.metadata.labels["tier"]', ["web"]),
        (".metadata.labels.app\\.kubernetes\\.io/name", ["cron"]),
        (".metadata.annotations['a.b']", ["dotted"]),
        ("..containerPort", [80, 9090]),
        ("..ports[0]", [80, {"containerPort": 80}, {"containerPort": 9090}]),
        (".spec.containers[*].ports[*].containerPort", [80, 9090]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Ready')].status", ["True"]),
        ('.status.conditions[?(@.type!="Ready")].type', ["Available"]),
        (".status.conditions[?(@.priority>2)].type", ["Ready"]),
        (".status.conditions[?(@.priority>=2)].type", ["Available", "Ready"]),
        (".status.conditions[?(@.priority<5)].type", ["Available"]),
        (".status.conditions[?(@.priority<=5)].type", ["Available", "Ready"]),
        (".spec.containers[?(@.ports)].name", ["main", "side"]),
        (".spec.containers[?(@.missing)].name", []),
        (".spec.ports[?(@ > 100)]", [443, 8080]),
        (".metadata.labels.*", ["cron", "web"]),
        (".spec.suspend", [False]),
        (".spec.note", [None]),
    ],
)
def test_expressions_select_what_client_go_selects(expression: str, expected: list[Any]) -> None:
    assert find(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        ".spec.missing",
        ".spec.missing.deeper",
        ".spec.replicas.deeper",  # a field of a number
        ".spec.containers.name",  # a field of a list
        ".spec.ports[3]",  # out of range: an error in client-go, no value in a column
        ".spec.ports[-4]",
        "..ports[1]",  # out of range in a container's one-port list fails the whole lookup
        ".metadata[0]",  # indexing a map
        ".metadata.labels[?(@.x)]",  # filtering a map
        ".spec.note[?(@.x)]",  # filtering null
        '.status.conditions[?(@.priority=="2")].type',  # number against text
        ".status.conditions[?(@.priority>1.5)].type",  # integer against float, as Go's templates
    ],
)
def test_missing_values_and_evaluation_errors_select_nothing(expression: str) -> None:
    assert find(expression) == []


def test_an_empty_slice_selects_nothing_without_error() -> None:
    assert find(".spec.ports[1:1]") == []


def test_compiled_expressions_are_cached() -> None:
    assert compile_jsonpath(".spec.replicas") is compile_jsonpath(".spec.replicas")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "must not be empty"),
        (".spec.ports[", "unterminated array"),
        (".spec.ports[x]", "invalid array index x"),
        (".spec.ports[1:2:x]", "invalid array index 1:2:x"),
        ('.status.conditions[?(@.type=="Ready"', "unterminated filter"),
        ('.status.conditions[?(@.type=="Ready")', "unclosed array expect ]"),
        ('.status.conditions[?(@.type="Ready)]', "unterminated filter"),
        (".status.conditions[?(@.type=Ready)].status", "unrecognized filter operator ="),
        (".status.conditions[?(@.type=~x)].status", "unrecognized filter operator ="),
        (".spec % 2", "unrecognized character in action: U+0025 '%'"),
        ("{.spec.replicas", "unclosed action"),
        ("{.a}{.b}", "only one {...} action is supported"),
        ("....a", "invalid multiple recursive descent"),
        (".a 1.2.3", "cannot parse number 1.2.3"),
        ("range .items", "unrecognized identifier range"),
        (".a 'open", "unterminated quoted string"),
    ],
)
def test_bad_syntax_is_refused_with_a_reason(expression: str, message: str) -> None:
    with pytest.raises(JSONPathError) as caught:
        compile_jsonpath(expression)
    assert str(caught.value) == message

"""``paas describe`` text and ``paas apply`` warnings: pure helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from paas.cli.apply import parse_warnings
from paas.cli.describe import event_rows, render
from paas.cli.describers import describe, timestamp

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_render_aligns_each_run_of_key_value_rows() -> None:
    text = render(
        [
            ("Name:", "web"),
            ("CreationTimestamp:", "x"),
            ("Pod Template:",),
            ("  Labels:", "app=web"),
            ("", "tier=a"),
        ]
    )
    assert text.splitlines() == [
        "Name:               web",
        "CreationTimestamp:  x",
        "Pod Template:",
        "  Labels:  app=web",
        "           tier=a",
    ]


def test_timestamp_like_kubectl() -> None:
    assert timestamp("2026-01-01T10:00:00Z") == "Thu, 01 Jan 2026 10:00:00 +0000"
    assert timestamp("") == "<unset>"


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "labels": {"app": "web"},
        "creationTimestamp": "2026-01-01T10:00:00Z",
    },
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
        },
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    }
                ]
            },
        },
    },
    "status": {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 2},
}
SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.7",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
    },
}
ENDPOINTS = {
    "subsets": [
        {
            "addresses": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}],
            "ports": [{"name": "http", "port": 8080}],
        }
    ]
}


@pytest.mark.parametrize(
    ("obj", "extra", "expected"),
    [
        (
            DEPLOYMENT,
            {},
            [
                "Name:",
                "web",
                "Selector:",
                "app=web",
                "3 desired | 3 updated | 3 total | 2 available | 0 unavailable",
                "StrategyType:",
                "RollingUpdate",
                "Image:",
                "nginx:1",
                "Port:",
                "80/TCP",
            ],
        ),
        (
            SERVICE,
            {"endpoints": ENDPOINTS},
            [
                "Type:",
                "ClusterIP",
                "IP:",
                "10.96.0.7",
                "http  80/TCP",
                "8080/TCP",
                "10.244.0.5:8080,10.244.0.6:8080",
            ],
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"greeting": "hello"},
            },
            {},
            ["Data", "greeting:", "hello"],
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
                "status": {
                    "phase": "Running",
                    "podIP": "10.244.0.9",
                    "hostIP": "10.0.0.1",
                    "containerStatuses": [
                        {"name": "c", "ready": True, "restartCount": 2, "state": {"running": {}}}
                    ],
                },
            },
            {},
            ["Node:", "n1/10.0.0.1", "Status:", "Running", "10.244.0.9", "Restart Count:"],
        ),
        (
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {"size": 3},
            },
            {},
            ["Spec:", "size: 3"],
        ),
    ],
)
def test_describers_show_key_fields(
    obj: dict[str, Any], extra: dict[str, Any], expected: list[str]
) -> None:
    text = render(describe(obj, **extra))
    for part in expected:
        assert part in text


def test_event_rows_table_and_none() -> None:
    assert render(event_rows([], NOW)) == "Events:  <none>\n"
    text = render(
        event_rows(
            [
                {
                    "type": "Normal",
                    "reason": "Scaled",
                    "message": "up to 3",
                    "count": 2,
                    "firstTimestamp": "2026-01-01T11:00:00Z",
                    "lastTimestamp": "2026-01-01T11:59:00Z",
                    "source": {"component": "deployment-controller"},
                }
            ],
            NOW,
        )
    )
    lines = text.splitlines()
    assert lines[0] == "Events:"
    assert lines[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert "Scaled  60s (x2 over 60m)  deployment-controller  up to 3" in lines[3]


@pytest.mark.parametrize(
    ("headers", "texts"),
    [
        (['299 - "unknown field \\"spec.foo\\""'], ['unknown field "spec.foo"']),
        (['299 - "a, b", 299 - "c"'], ["a, b", "c"]),
        (['299 - "one"', '299 - "two"'], ["one", "two"]),
        (["free text"], ["free text"]),
        ([], []),
    ],
)
def test_parse_warnings(headers: list[str], texts: list[str]) -> None:
    assert parse_warnings(headers) == texts

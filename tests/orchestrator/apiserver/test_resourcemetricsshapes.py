"""metrics-server's quantities and windows, and objects from Summaries (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.apiserver.resourcemetricsshapes import (
    cpu_quantity,
    go_duration,
    memory_quantity,
    node_metrics,
    pod_metrics,
    pod_stats,
)

NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("nanocores", "shown"),
    [(1_003_541, "1003541n"), (250_000_000, "250m"), (2_000_000_000, "2"), (5_000, "5u"), (0, "0")],
)
def test_cpu_is_written_as_kubernetes_canonical_decimal_quantity(
    nanocores: int, shown: str
) -> None:
    assert cpu_quantity(nanocores) == shown


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (204800 * 1024 + 512, str(204800 * 1024 + 512)),
        (204800 * 1024, "200Mi"),
        (1536, "1536"),
        (3 * 1024, "3Ki"),
        (0, "0"),
    ],
)
def test_memory_is_written_as_a_binary_quantity(size: int, shown: str) -> None:
    assert memory_quantity(size) == shown


@pytest.mark.parametrize(
    ("ns", "shown"),
    [
        (10_003_251_113, "10.003s"),
        (1_000_000_000, "1s"),
        (90_500_000_000, "1m30.5s"),
        (3_600_000_000_000, "1h0m0s"),
        (0, "0s"),
    ],
)
def test_window_is_a_go_duration(ns: int, shown: str) -> None:
    assert go_duration(ns) == shown


def summary() -> dict:
    cpu = {
        "time": "2027-01-15T07:59:59Z",
        "usageNanoCores": 1_000_000,
        "usageWindowNanoSeconds": 10 * 10**9,
    }
    return {
        "node": {"nodeName": "n1", "cpu": cpu, "memory": {"workingSetBytes": 1024**3}},
        "pods": [
            {
                "podRef": {"name": "web", "namespace": "default", "uid": "u1"},
                "containers": [
                    {"name": "app", "cpu": cpu, "memory": {"workingSetBytes": 2048}},
                    {
                        "name": "once",
                        "cpu": {"time": cpu["time"]},
                        "memory": {"workingSetBytes": 1},
                    },
                ],
            },
            {
                "podRef": {"name": "api", "namespace": "default", "uid": "u2"},
                "containers": [{"name": "app", "cpu": cpu, "memory": {"workingSetBytes": 4096}}],
            },
        ],
    }


def test_node_metrics_carry_the_nodes_labels_the_sample_time_and_window() -> None:
    node = {"metadata": {"name": "n1", "labels": {"zone": "a"}, "uid": "x"}}
    got = node_metrics(node, summary(), NOW)
    assert got == {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": "n1",
            "creationTimestamp": "2027-01-15T08:00:00Z",
            "labels": {"zone": "a"},
        },
        "timestamp": "2027-01-15T07:59:59Z",
        "window": "10s",
        "usage": {"cpu": "1m", "memory": "1Gi"},
    }


def test_a_pod_with_a_container_read_once_has_no_metrics_yet() -> None:
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"}}
    assert pod_metrics(pod, pod_stats(summary(), "u1", "default", "web"), NOW) is None
    api = {"metadata": {"name": "api", "namespace": "default", "uid": "u2", "labels": {"a": "b"}}}
    got = pod_metrics(api, pod_stats(summary(), "u2", "default", "api"), NOW)
    assert got is not None and got["containers"] == [
        {"name": "app", "usage": {"cpu": "1m", "memory": "4Ki"}}
    ]
    assert got["metadata"]["namespace"] == "default" and got["metadata"]["labels"] == {"a": "b"}


def test_a_pod_made_again_under_the_same_name_is_not_matched_by_name() -> None:
    assert pod_stats(summary(), "new-uid", "default", "api") == {}
    assert pod_stats(summary(), "", "default", "api")["podRef"]["uid"] == "u2"

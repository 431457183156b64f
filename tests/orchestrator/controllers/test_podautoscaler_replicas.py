"""The replica calculator, case by case as Kubernetes' own tests of it decide them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.controllers.podautoscaler_metrics import samples_from_list
from orchestrator.controllers.podautoscaler_replicas import (
    CalculatorSettings,
    MetricError,
    PodSample,
    average_value_replicas,
    utilization_replicas,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
LONG_AGO = "2026-01-01T10:00:00Z"  # started and Ready well before the cpu initialization period
SETTINGS = CalculatorSettings()


def pod(
    name: str,
    *,
    request: str | None = "1",
    ready: bool = True,
    phase: str = "Running",
    resource: str = "cpu",
) -> dict:
    resources = {"requests": {resource: request}} if request is not None else {}
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "resources": resources}]},
        "status": {
            "phase": phase,
            "startTime": LONG_AGO,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": LONG_AGO,
                }
            ],
        },
    }


def samples(**milli: int) -> dict[str, PodSample]:
    return {name: PodSample(v, NOW - timedelta(seconds=5), 10.0) for name, v in milli.items()}


@pytest.mark.parametrize(
    ("current", "pods", "usage", "target", "replicas", "utilization"),
    [
        # 50% against 30%: 5 pods (Kubernetes' TestReplicaCalcScaleUp)
        (3, [pod("a"), pod("b"), pod("c")], dict(a=300, b=500, c=700), 30, 5, 50),
        # an unready pod counts as 0% on a scale-up: 4, not 6 (ScaleUpUnreadyLessScale)
        (3, [pod("a", ready=False), pod("b"), pod("c")], dict(a=300, b=500, c=700), 30, 4, 60),
        # 28% against 50%: 3 pods (TestReplicaCalcScaleDown)
        (5, [pod(n) for n in "abcde"], dict(a=100, b=300, c=500, d=250, e=250), 50, 3, 28),
        # within the 10% tolerance: no change
        (3, [pod("a"), pod("b"), pod("c")], dict(a=1050, b=1050, c=1050), 100, 3, 105),
        # a pod without a sample counts as 100% on a scale-down, which flips it: no change
        (2, [pod("a"), pod("b")], dict(a=400), 50, 2, 40),
        # ... and as 0% on a scale-up: 400% of one pod becomes 200% of two: 4 pods
        (2, [pod("a"), pod("b")], dict(a=2000), 50, 4, 200),
        # a pending pod is unready: left out of a scale-down
        (3, [pod("a"), pod("b"), pod("c", phase="Pending")], dict(a=100, b=100), 50, 1, 10),
    ],
)
def test_utilization_proposals_follow_kubernetes_replica_calculator(
    current: int, pods: list, usage: dict, target: int, replicas: int, utilization: int
) -> None:
    got = utilization_replicas(current, target, "cpu", pods, samples(**usage), NOW, SETTINGS)
    assert (got.replicas, got.utilization) == (replicas, utilization)


def test_a_pod_still_starting_is_left_out_of_cpu_scale_up() -> None:
    starting = pod("b")
    just = (NOW - timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    starting["status"]["startTime"] = just
    starting["status"]["conditions"][0]["lastTransitionTime"] = just
    got = utilization_replicas(
        2, 50, "cpu", [pod("a"), starting], samples(a=1000, b=1000), NOW, SETTINGS
    )
    # b's sample began before it was Ready for a whole window: a alone at 100% -> 2 x 0.5 rounds
    assert got.replicas == 2 and got.utilization == 100
    short = CalculatorSettings(cpu_initialization_period=1.0)
    got = utilization_replicas(
        2, 50, "cpu", [pod("a"), starting], samples(a=1000, b=1000), NOW, short
    )
    assert got.replicas == 4


def test_a_container_without_a_cpu_request_is_named() -> None:
    with pytest.raises(MetricError, match="missing request for cpu in container c of Pod a"):
        utilization_replicas(1, 50, "cpu", [pod("a", request=None)], samples(a=10), NOW, SETTINGS)


def test_no_pods_and_no_samples_are_kubernetes_errors() -> None:
    with pytest.raises(MetricError, match="no pods returned by selector"):
        utilization_replicas(1, 50, "cpu", [], {}, NOW, SETTINGS)
    with pytest.raises(MetricError, match="did not receive metrics for targeted pods"):
        utilization_replicas(1, 50, "cpu", [pod("a", phase="Pending")], samples(a=5), NOW, SETTINGS)


def test_memory_utilization_and_average_value_targets() -> None:
    mi = 1024 * 1024 * 1000  # one MiB in milli-bytes
    pods = [
        pod("a", request="100Mi", resource="memory"),
        pod("b", request="100Mi", resource="memory"),
    ]
    got = utilization_replicas(2, 50, "memory", pods, samples(a=90 * mi, b=90 * mi), NOW, SETTINGS)
    assert (got.replicas, got.utilization) == (4, 90)
    got = average_value_replicas(
        2, 30 * mi, "memory", pods, samples(a=90 * mi, b=90 * mi), NOW, SETTINGS
    )
    assert (got.replicas, got.raw) == (6, 90 * mi)
    got = average_value_replicas(
        2, 100 * mi, "memory", pods, samples(a=95 * mi, b=100 * mi), NOW, SETTINGS
    )
    assert got.replicas == 2  # within tolerance


def test_a_container_metric_counts_only_that_containers_request() -> None:
    with_sidecar = pod("a")
    with_sidecar["spec"]["containers"].append({"name": "sidecar", "resources": {}})
    with pytest.raises(MetricError, match="missing request for cpu in container sidecar"):
        utilization_replicas(1, 50, "cpu", [with_sidecar], samples(a=500), NOW, SETTINGS)
    got = utilization_replicas(
        1, 50, "cpu", [with_sidecar], samples(a=500), NOW, SETTINGS, container="c"
    )
    assert (got.replicas, got.utilization) == (1, 50)


def test_pod_metrics_lists_become_samples_per_pod_or_container() -> None:
    body = {
        "kind": "PodMetricsList",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "items": [
            {
                "metadata": {"name": "a", "namespace": "default"},
                "timestamp": "2026-01-01T12:00:00Z",
                "window": "10.5s",
                "containers": [
                    {"name": "c", "usage": {"cpu": "250m", "memory": "204800Ki"}},
                    {"name": "sidecar", "usage": {"cpu": "1003541n", "memory": "1Mi"}},
                ],
            },
            {"metadata": {"name": "b"}, "timestamp": "2026-01-01T12:00:00Z", "containers": []},
        ],
    }
    whole = samples_from_list(body, "cpu")
    assert list(whole) == ["a"]  # b has no container usage: no sample
    assert whole["a"].value == 250 + 2 and whole["a"].window == 10.5
    assert samples_from_list(body, "memory", "c")["a"].value == 204800 * 1024 * 1000

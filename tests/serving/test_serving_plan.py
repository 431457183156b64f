"""The serving planners and builders as tables: names, HTTPRoutes, route and revision status."""

from __future__ import annotations

from typing import Any

import pytest

from paas.serving.names import child_name, deployment_name, revision_name
from paas.serving.plan import plan_revision, plan_route, route_status
from paas.serving.resources import make_deployment, make_httproutes, make_revision_service
from paas.serving.settings import ServingSettings

S = ServingSettings(domain="example.test", http_port=8080)


@pytest.mark.parametrize(
    ("parent", "suffix", "expected"),
    [
        ("hello", "-00001", "hello-00001"),
        ("hello-00001", "-deployment", "hello-00001-deployment"),
        ("a" * 60, "-00001", "a" * 25 + "9c9b0bb3bc0ba5f5c8cd6ee2fd0f7c5f" + "-00001"),
    ],
)
def test_child_names_follow_kmeta(parent: str, suffix: str, expected: str) -> None:
    import hashlib

    if len(parent) > 40:
        expected = "a" * 25 + hashlib.md5(parent.encode()).hexdigest() + suffix
    assert child_name(parent, suffix) == expected
    assert len(child_name(parent, suffix)) <= 63


def test_revision_and_deployment_names() -> None:
    assert revision_name("hello", 12) == "hello-00012"
    assert deployment_name("hello-00012") == "hello-00012-deployment"


def route() -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Route",
        "metadata": {
            "name": "hello",
            "namespace": "shop",
            "uid": "r-uid",
            "generation": 2,
            "labels": {"serving.knative.dev/service": "hello"},
        },
        "spec": {
            "traffic": [
                {"configurationName": "hello", "latestRevision": True, "percent": 90},
                {
                    "revisionName": "hello-00001",
                    "latestRevision": False,
                    "percent": 10,
                    "tag": "old",
                },
            ]
        },
    }


def ready(name: str, status: str = "True") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"timeoutSeconds": 300},
        "status": {"conditions": [{"type": "Ready", "status": status}]},
    }


def test_a_90_10_split_becomes_weighted_backends_and_a_tag_route() -> None:
    configurations = {
        "hello": {
            "metadata": {"name": "hello"},
            "status": {"latestReadyRevisionName": "hello-00002"},
        }
    }
    revisions = {"hello-00001": ready("hello-00001"), "hello-00002": ready("hello-00002")}
    plan = plan_route(route(), configurations, revisions, S)
    assert plan.assigned["status"] == "True"
    assert plan.traffic == [
        {"revisionName": "hello-00002", "latestRevision": True, "percent": 90},
        {
            "tag": "old",
            "revisionName": "hello-00001",
            "latestRevision": False,
            "percent": 10,
            "url": "http://old-hello.shop.example.test:8080",
        },
    ]
    main, tagged = plan.httproutes
    assert main["metadata"]["name"] == "hello"
    assert main["spec"]["hostnames"] == ["hello.shop.example.test"]
    assert main["spec"]["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "namespace": "paas-system",
            "name": "paas",
        }
    ]
    assert [
        (b["name"], b["port"], b["weight"]) for b in main["spec"]["rules"][0]["backendRefs"]
    ] == [
        ("hello-00002", 80, 90),
        ("hello-00001", 80, 10),
    ]
    assert main["spec"]["rules"][0]["timeouts"] == {"request": "300s"}
    assert tagged["metadata"]["name"] == "hello-old"
    assert tagged["spec"]["hostnames"] == ["old-hello.shop.example.test"]
    assert [b["name"] for b in tagged["spec"]["rules"][0]["backendRefs"]] == ["hello-00001"]
    for r in plan.httproutes:
        assert r["metadata"]["labels"] == {
            "serving.knative.dev/route": "hello",
            "serving.knative.dev/service": "hello",
        }
        assert r["metadata"]["ownerReferences"][0]["uid"] == "r-uid"
    ingress = {"type": "IngressReady", "status": "True"}
    status = route_status(route(), plan, ingress, S)
    assert status["url"] == "http://hello.shop.example.test:8080"
    assert status["address"] == {"url": "http://hello.shop.svc.cluster.local"}
    assert [c["type"] for c in status["conditions"]] == [
        "AllTrafficAssigned",
        "CertificateProvisioned",
        "IngressReady",
        "Ready",
    ]
    assert status["conditions"][-1]["status"] == "True"


@pytest.mark.parametrize(
    ("configurations", "revisions", "status", "reason", "message"),
    [
        (
            {},
            {},
            "False",
            "ConfigurationMissing",
            'Configuration "hello" referenced in traffic not found.',
        ),
        (
            {"hello": {"metadata": {"name": "hello"}, "status": {}}},
            {},
            "Unknown",
            "RevisionMissing",
            'Configuration "hello" is waiting for a Revision to become ready.',
        ),
        (
            {
                "hello": {
                    "metadata": {"name": "hello"},
                    "status": {"latestReadyRevisionName": "hello-00002"},
                }
            },
            {},
            "False",
            "RevisionMissing",
            'Revision "hello-00001" referenced in traffic not found.',
        ),
        (
            {
                "hello": {
                    "metadata": {"name": "hello"},
                    "status": {"latestReadyRevisionName": "hello-00002"},
                }
            },
            {"hello-00001": ready("hello-00001", "Unknown")},
            "Unknown",
            "RevisionMissing",
            'Revision "hello-00001" is not yet ready.',
        ),
    ],
)
def test_unassignable_traffic_is_reported_in_knatives_words(
    configurations: Any, revisions: Any, status: str, reason: str, message: str
) -> None:
    plan = plan_route(route(), configurations, revisions, S)
    assert plan.traffic is None and plan.httproutes == []
    assert (plan.assigned["status"], plan.assigned["reason"], plan.assigned["message"]) == (
        status,
        reason,
        message,
    )


def revision(**annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": "hello-00001",
            "namespace": "default",
            "uid": "rev-uid",
            "generation": 1,
            "labels": {
                "serving.knative.dev/configuration": "hello",
                "serving.knative.dev/service": "hello",
            },
            "annotations": annotations,
        },
        "spec": {
            "timeoutSeconds": 300,
            "containerConcurrency": 0,
            "containers": [
                {
                    "name": "user-container",
                    "image": "ghcr.io/knative/helloworld-go",
                    "ports": [{"containerPort": 9000}],
                    "readinessProbe": {"tcpSocket": {"port": 0}, "successThreshold": 1},
                }
            ],
        },
    }


def test_the_deployment_runs_the_users_container_with_port_and_initial_scale() -> None:
    d = make_deployment(revision(**{"autoscaling.knative.dev/initial-scale": "3"}), S)
    assert d["metadata"]["name"] == "hello-00001-deployment"
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["selector"] == {"matchLabels": {"serving.knative.dev/revisionUID": "rev-uid"}}
    assert d["metadata"]["annotations"] == {}  # autoscaling annotations stay on the Revision
    [c] = d["spec"]["template"]["spec"]["containers"]
    assert {"name": "PORT", "value": "9000"} in c["env"]
    assert {"name": "K_REVISION", "value": "hello-00001"} in c["env"]
    assert c["ports"] == [{"name": "user-port", "containerPort": 9000, "protocol": "TCP"}]
    assert c["readinessProbe"]["tcpSocket"] == {"port": 9000}
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert labels["serving.knative.dev/revision"] == "hello-00001"
    assert labels["app"] == "hello-00001"
    assert make_deployment(revision(), S)["spec"]["replicas"] == 1


def test_a_revision_with_container_concurrency_caps_requests_per_pod_on_its_service() -> None:
    unlimited = make_revision_service(revision())
    assert unlimited["metadata"]["annotations"] == {}
    assert unlimited["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 9000, "protocol": "TCP"}
    ]
    capped = revision()
    capped["spec"]["containerConcurrency"] = 4
    annotations = make_revision_service(capped)["metadata"]["annotations"]
    assert annotations == {"paas.dev/max-requests-per-endpoint": "4"}


def readiness(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def test_revision_status_says_why_its_pods_cannot_start() -> None:
    deployment = {"spec": {"replicas": 1}, "status": {"readyReplicas": 0}}
    pulling = {
        "status": {
            "containerStatuses": [
                {
                    "image": "nope:1",
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}},
                }
            ]
        }
    }
    status = plan_revision(revision(), deployment, [pulling]).status
    ready = readiness(status)
    assert (ready["status"], ready["reason"]) == ("False", "ContainerMissing")
    assert ready["message"] == 'Unable to fetch image "nope:1": not found'
    crashing = {
        "status": {
            "containerStatuses": [
                {"lastState": {"terminated": {"exitCode": 3, "message": "boom"}}, "state": {}}
            ]
        }
    }
    ready = readiness(plan_revision(revision(), deployment, [crashing]).status)
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "ExitCode3",
        "Container failed with: boom",
    )
    up = {"spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
    status = plan_revision(revision(), up, []).status
    assert readiness(status)["status"] == "True"
    assert (status["actualReplicas"], status["desiredReplicas"]) == (1, 1)


def test_a_tagless_zero_percent_target_gets_no_backend() -> None:
    r = route()
    traffic = [
        {"revisionName": "a", "percent": 100},
        {"revisionName": "b", "percent": 0},
    ]
    [main] = make_httproutes(r, traffic, "localhost")
    assert [b["name"] for b in main["spec"]["rules"][0]["backendRefs"]] == ["a"]

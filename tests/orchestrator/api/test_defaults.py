"""Defaulting, as tables of (object, path, expected value)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from orchestrator.api.defaults import apply_defaults, image_pull_policy, qos_class
from orchestrator.api.validation import validate


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "app", "image": "nginx:1.27", **extra}


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [container()], **spec},
    }


def template(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()], **spec}}


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec},
    }


def job(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": "default"},
        "spec": {"template": template(restartPolicy="Never"), **spec},
    }


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def get(obj: Any, path: str) -> Any:
    """``spec.containers.0.image`` style lookup; a missing step gives ``KeyError``."""
    for step in path.split("."):
        obj = obj[int(step)] if isinstance(obj, list) else obj[step]
    return obj


CASES: list[tuple[str, dict[str, Any], str, Any]] = [
    ("Pod", pod(), "spec.restartPolicy", "Always"),
    ("Pod", pod(), "spec.dnsPolicy", "ClusterFirst"),
    ("Pod", pod(), "spec.schedulerName", "default-scheduler"),
    ("Pod", pod(), "spec.terminationGracePeriodSeconds", 30),
    ("Pod", pod(), "spec.securityContext", {}),
    ("Pod", pod(), "spec.enableServiceLinks", True),
    ("Pod", pod(), "spec.containers.0.imagePullPolicy", "IfNotPresent"),
    ("Pod", pod(), "spec.containers.0.terminationMessagePath", "/dev/termination-log"),
    ("Pod", pod(), "spec.containers.0.terminationMessagePolicy", "File"),
    ("Pod", pod(), "spec.containers.0.resources", {}),
    ("Pod", pod(), "status.phase", "Pending"),
    ("Pod", pod(), "status.qosClass", "BestEffort"),
    ("Pod", pod(restartPolicy="Never"), "spec.restartPolicy", "Never"),
    ("Pod", pod(initContainers=[container(name="init")]), "spec.initContainers.0.resources", {}),
    (
        "Pod",
        pod(containers=[container(ports=[{"containerPort": 80}])]),
        "spec.containers.0.ports.0.protocol",
        "TCP",
    ),
    (
        "Pod",
        pod(containers=[container(ports=[{"containerPort": 80, "protocol": "UDP"}])]),
        "spec.containers.0.ports.0.protocol",
        "UDP",
    ),
    (
        "Pod",
        pod(containers=[container(livenessProbe={"httpGet": {"port": 80}})]),
        "spec.containers.0.livenessProbe",
        {
            "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
    ),
    (
        "Pod",
        pod(containers=[container(readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 2})]),
        "spec.containers.0.readinessProbe.periodSeconds",
        2,
    ),
    ("Pod", pod(volumes=[{"name": "scratch"}]), "spec.volumes.0.emptyDir", {}),
    (
        "Pod",
        pod(volumes=[{"name": "cfg", "configMap": {"name": "c"}}]),
        "spec.volumes.0.configMap.defaultMode",
        420,
    ),
    ("Deployment", deployment(), "spec.replicas", 1),
    ("Deployment", deployment(replicas=0), "spec.replicas", 0),
    (
        "Deployment",
        deployment(),
        "spec.strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    ),
    (
        "Deployment",
        deployment(strategy={"type": "Recreate"}),
        "spec.strategy",
        {"type": "Recreate"},
    ),
    (
        "Deployment",
        deployment(strategy={"rollingUpdate": {"maxSurge": 1}}),
        "spec.strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
    ),
    ("Deployment", deployment(), "spec.revisionHistoryLimit", 10),
    ("Deployment", deployment(), "spec.progressDeadlineSeconds", 600),
    ("Deployment", deployment(), "spec.template.spec.restartPolicy", "Always"),
    ("Deployment", deployment(), "spec.template.spec.containers.0.imagePullPolicy", "IfNotPresent"),
    ("ReplicaSet", {"spec": {"template": template()}}, "spec.replicas", 1),
    (
        "ReplicaSet",
        {"spec": {"template": template()}},
        "spec.template.spec.dnsPolicy",
        "ClusterFirst",
    ),
    ("Job", job(), "spec.completions", 1),
    ("Job", job(), "spec.parallelism", 1),
    ("Job", job(), "spec.backoffLimit", 6),
    ("Job", job(), "spec.completionMode", "NonIndexed"),
    ("Job", job(), "spec.suspend", False),
    ("Job", job(completions=5), "spec.parallelism", 1),
    ("Job", job(parallelism=3), "spec.parallelism", 3),
    ("Job", job(), "spec.template.spec.restartPolicy", "Never"),
    ("Job", job(), "spec.template.spec.schedulerName", "default-scheduler"),
    (
        "CronJob",
        {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}}},
        "spec",
        {
            "schedule": "* * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "containers": [
                                {
                                    **container(),
                                    "imagePullPolicy": "IfNotPresent",
                                    "terminationMessagePath": "/dev/termination-log",
                                    "terminationMessagePolicy": "File",
                                    "resources": {},
                                }
                            ],
                            "dnsPolicy": "ClusterFirst",
                            "schedulerName": "default-scheduler",
                            "terminationGracePeriodSeconds": 30,
                            "securityContext": {},
                            "enableServiceLinks": True,
                        },
                    }
                }
            },
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        },
    ),
    ("Service", service(), "spec.type", "ClusterIP"),
    ("Service", service(), "spec.sessionAffinity", "None"),
    ("Service", service(), "spec.internalTrafficPolicy", "Cluster"),
    ("Service", service(), "spec.ports.0", {"port": 80, "protocol": "TCP", "targetPort": 80}),
    (
        "Service",
        service(ports=[{"port": 80, "targetPort": "http", "protocol": "UDP"}]),
        "spec.ports.0",
        {"port": 80, "targetPort": "http", "protocol": "UDP"},
    ),
    ("Service", service(type="NodePort"), "spec.externalTrafficPolicy", "Cluster"),
    ("Secret", {"metadata": {"name": "s"}}, "type", "Opaque"),
    (
        "Secret",
        {"metadata": {"name": "s"}, "type": "kubernetes.io/tls"},
        "type",
        "kubernetes.io/tls",
    ),
    (
        "Secret",
        {"data": {"a": "YQ=="}, "stringData": {"b": "héllo", "a": "override"}},
        "data",
        {
            "a": base64.b64encode(b"override").decode(),
            "b": base64.b64encode("héllo".encode()).decode(),
        },
    ),
    ("Namespace", {"metadata": {"name": "team"}}, "spec.finalizers", ["kubernetes"]),
    ("Namespace", {"metadata": {"name": "team"}}, "status.phase", "Active"),
    (
        "Namespace",
        {"metadata": {"name": "team"}},
        "metadata.labels",
        {"kubernetes.io/metadata.name": "team"},
    ),
    (
        "PersistentVolumeClaim",
        {"spec": {"accessModes": ["ReadWriteOnce"]}},
        "spec.volumeMode",
        "Filesystem",
    ),
    (
        "Endpoints",
        {"subsets": [{"ports": [{"port": 80}]}]},
        "subsets.0.ports.0.protocol",
        "TCP",
    ),
]


@pytest.mark.parametrize(("kind", "obj", "path", "expected"), CASES)
def test_defaults(kind: str, obj: dict[str, Any], path: str, expected: Any) -> None:
    before = copy.deepcopy(obj)
    result = apply_defaults(kind, obj)
    assert get(result, path) == expected
    assert obj == before  # the input is never touched


@pytest.mark.parametrize(
    ("kind", "obj", "absent"),
    [
        ("Job", job(template=template()), "spec.template.spec.restartPolicy"),
        ("Job", job(completions=4), "spec.nonexistent"),
        ("Deployment", deployment(strategy={"type": "Recreate"}), "spec.strategy.rollingUpdate"),
        ("Secret", {"stringData": {"a": "b"}}, "stringData"),
        ("Service", service(type="ExternalName"), "spec.internalTrafficPolicy"),
        ("Service", service(), "spec.clusterIP"),  # the API server allocates it
        ("ConfigMap", {"data": {"a": "b"}}, "immutable"),
        ("Node", {"metadata": {"name": "n"}}, "spec"),
    ],
)
def test_fields_left_unset(kind: str, obj: dict[str, Any], absent: str) -> None:
    with pytest.raises(KeyError):
        get(apply_defaults(kind, obj), absent)


def test_job_completions_stay_unset_when_parallelism_is_given() -> None:
    assert "completions" not in apply_defaults("Job", job(parallelism=2))["spec"]


def test_job_with_uid_gets_generated_selector_and_labels() -> None:
    obj = job()
    obj["metadata"]["uid"] = "1234"
    result = apply_defaults("Job", obj)
    assert result["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}
    }
    labels = result["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/controller-uid"] == "1234"
    assert labels["job-name"] == "once"
    assert labels["app"] == "web"
    assert validate("Job", result, namespaced=True) == []


def test_unknown_fields_survive_defaulting() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["x-custom"] = {"keep": [1, 2]}
    obj["extra"] = "kept"
    result = apply_defaults("Deployment", obj)
    assert result["extra"] == "kept"
    assert result["spec"]["template"]["spec"]["containers"][0]["x-custom"] == {"keep": [1, 2]}


def test_other_groups_kinds_are_not_defaulted() -> None:
    knative = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "spec": {}}
    assert apply_defaults("Service", knative) == knative


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "Job", "Service"])
def test_defaulted_objects_validate(kind: str) -> None:
    builders = {"Pod": pod, "Deployment": deployment, "Job": job, "Service": service}
    assert validate(kind, apply_defaults(kind, builders[kind]()), namespaced=True) == []


def test_defaulting_twice_changes_nothing() -> None:
    once = apply_defaults("Deployment", deployment())
    assert apply_defaults("Deployment", once) == once


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:abc123", "IfNotPresent"),
        ("app@sha256:0123", "IfNotPresent"),
        ("paas/stack:bookworm", "IfNotPresent"),
        ("slug:sha256:0123", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ([{}], "BestEffort"),
        ([{"requests": {"cpu": "100m"}}], "Burstable"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1"}}], "Guaranteed"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ],
)
def test_qos_class(resources: list[dict[str, Any]], expected: str) -> None:
    spec = {"containers": [container(name=f"c{i}", resources=r) for i, r in enumerate(resources)]}
    assert qos_class(spec) == expected

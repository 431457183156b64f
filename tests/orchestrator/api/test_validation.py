"""Validation, unknown fields and update rules, as tables of objects and causes."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.schema import find_unknown_fields
from orchestrator.api.validation import (
    MAX_LISTED_CAUSES,
    Cause,
    format_invalid_message,
    invalid_error,
    validate,
    validate_update,
)
from orchestrator.api.validation_names import (
    check_config_key,
    check_dns1035_label,
    check_dns1123_label,
    check_dns1123_subdomain,
    check_label_value,
    check_port_name,
    check_qualified_name,
    check_quantity,
)
from orchestrator.api.validation_workloads import is_cron_schedule

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

NAMESPACED = {
    "Namespace": False,
    "Node": False,
}


def meta(name: str = "web", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", **extra}


def container(name: str = "app", image: str = "nginx:1.27", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels if labels is not None else {"app": "web"}},
        "spec": {"containers": [container()], **spec},
    }


def valid_objects() -> dict[str, dict[str, Any]]:
    return {
        "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
        "Pod": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta(labels={"app": "web"}),
            "spec": {
                "containers": [
                    container(
                        ports=[{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                        env=[{"name": "PORT", "value": "80"}],
                        resources={"limits": {"cpu": "500m", "memory": "128Mi"}},
                        volumeMounts=[{"name": "data", "mountPath": "/data"}],
                        livenessProbe={"httpGet": {"path": "/", "port": "http"}},
                    )
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "restartPolicy": "Always",
                "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            },
        },
        "Service": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(),
            "spec": {
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080},
                    {"name": "admin", "port": 81, "targetPort": "admin"},
                ],
            },
        },
        "Endpoints": {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": meta(),
            "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}],
        },
        "ConfigMap": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(),
            "data": {"app.conf": "x=1", "KEY_NAME": "v"},
        },
        "Secret": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(),
            "type": "Opaque",
            "data": {"password": "czNjcjN0"},
        },
        "Node": {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1"},
            "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "k", "effect": "NoSchedule"}]},
        },
        "Event": {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta("web.17a3"),
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Started",
            "count": 1,
            "type": "Normal",
        },
        "PersistentVolumeClaim": {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        "Deployment": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(),
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": template(),
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"},
                },
            },
        },
        "ReplicaSet": {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta(),
            "spec": {
                "replicas": 0,
                "selector": {
                    "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]
                },
                "template": template(),
            },
        },
        "Job": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta(),
            "spec": {"template": template(restartPolicy="Never"), "backoffLimit": 2},
        },
        "CronJob": {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta(),
            "spec": {
                "schedule": "*/5 * * * *",
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}},
            },
        },
        "Lease": {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta(),
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 0},
        },
        "App": {
            "apiVersion": "paas.dev/v1",
            "kind": "App",
            "metadata": meta(),
            "spec": {"anything": ["goes"], "replicas": "many"},
        },
    }


def check(kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    causes = validate(kind, obj, namespaced=NAMESPACED.get(kind, True))
    return [(c.field, c.reason) for c in causes]


@pytest.mark.parametrize("kind", sorted(valid_objects()))
def test_valid_objects_have_no_causes(kind: str) -> None:
    obj = valid_objects()[kind]
    before = copy.deepcopy(obj)
    assert validate(kind, obj, namespaced=NAMESPACED.get(kind, True)) == []
    assert obj == before  # validation never mutates


Mutation = Callable[[dict[str, Any]], None]

INVALID_CASES: list[tuple[str, str, Mutation, list[tuple[str, str]]]] = [
    (
        "name missing",
        "ConfigMap",
        lambda o: o["metadata"].pop("name"),
        [("metadata.name", "FieldValueRequired")],
    ),
    (
        "generateName stands in for name",
        "ConfigMap",
        lambda o: o["metadata"].update(name=None, generateName="web-"),
        [],
    ),
    (
        "bad generateName",
        "ConfigMap",
        lambda o: o["metadata"].update(name=None, generateName="Web-"),
        [("metadata.generateName", "FieldValueInvalid")],
    ),
    (
        "namespace required for namespaced kinds",
        "ConfigMap",
        lambda o: o["metadata"].pop("namespace"),
        [("metadata.namespace", "FieldValueRequired")],
    ),
    (
        "namespace name is a DNS label",
        "Namespace",
        lambda o: o["metadata"].update(name="a.b"),
        [("metadata.name", "FieldValueInvalid")],
    ),
    (
        "service name starts with a letter",
        "Service",
        lambda o: o["metadata"].update(name="1web"),
        [("metadata.name", "FieldValueInvalid")],
    ),
    (
        "label key and value",
        "ConfigMap",
        lambda o: o["metadata"].update(labels={"bad key": "ok", "ok": "bad value"}),
        [("metadata.labels", "FieldValueInvalid"), ("metadata.labels", "FieldValueInvalid")],
    ),
    (
        "annotation key",
        "ConfigMap",
        lambda o: o["metadata"].update(annotations={"a/b/c": "x"}),
        [("metadata.annotations", "FieldValueInvalid")],
    ),
    (
        "annotations too large",
        "ConfigMap",
        lambda o: o["metadata"].update(annotations={"big": "x" * (256 * 1024)}),
        [("metadata.annotations", "FieldValueTooLong")],
    ),
    (
        "owner reference needs uid",
        "ConfigMap",
        lambda o: o["metadata"].update(
            ownerReferences=[{"apiVersion": "v1", "kind": "Pod", "name": "p"}]
        ),
        [("metadata.ownerReferences[0].uid", "FieldValueRequired")],
    ),
    (
        "pod without containers",
        "Pod",
        lambda o: o["spec"].update(containers=[]),
        [("spec.containers", "FieldValueRequired")],
    ),
    (
        "container without image, duplicate name",
        "Pod",
        lambda o: o["spec"]["containers"].append({"name": "app"}),
        [
            ("spec.containers[1].name", "FieldValueDuplicate"),
            ("spec.containers[1].image", "FieldValueRequired"),
        ],
    ),
    (
        "container port out of range, bad protocol",
        "Pod",
        lambda o: o["spec"]["containers"][0]["ports"][0].update(
            containerPort=70000, protocol="HTTP"
        ),
        [
            ("spec.containers[0].ports[0].containerPort", "FieldValueInvalid"),
            ("spec.containers[0].ports[0].protocol", "FieldValueNotSupported"),
        ],
    ),
    (
        "string where a port number belongs",
        "Pod",
        lambda o: o["spec"]["containers"][0]["ports"][0].update(containerPort="80"),
        [("spec.containers[0].ports[0].containerPort", "FieldValueInvalid")],
    ),
    (
        "boolean is not an integer",
        "Pod",
        lambda o: o["spec"].update(terminationGracePeriodSeconds=True),
        [("spec.terminationGracePeriodSeconds", "FieldValueInvalid")],
    ),
    (
        "restart policy",
        "Pod",
        lambda o: o["spec"].update(restartPolicy="Sometimes"),
        [("spec.restartPolicy", "FieldValueNotSupported")],
    ),
    (
        "mount of a missing volume",
        "Pod",
        lambda o: o["spec"].update(volumes=[]),
        [("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound")],
    ),
    (
        "probe without handler",
        "Pod",
        lambda o: o["spec"]["containers"][0].update(readinessProbe={"periodSeconds": 5}),
        [("spec.containers[0].readinessProbe", "FieldValueRequired")],
    ),
    (
        "bad quantity",
        "Pod",
        lambda o: o["spec"]["containers"][0]["resources"]["limits"].update(cpu="lots"),
        [("spec.containers[0].resources.limits[cpu]", "FieldValueInvalid")],
    ),
    (
        "deployment without selector",
        "Deployment",
        lambda o: o["spec"].pop("selector"),
        [("spec.selector", "FieldValueRequired")],
    ),
    (
        "selector does not match template",
        "Deployment",
        lambda o: o["spec"]["template"]["metadata"].update(labels={"app": "other"}),
        [("spec.template.metadata.labels", "FieldValueInvalid")],
    ),
    (
        "negative replicas, bad strategy",
        "Deployment",
        lambda o: o["spec"].update(replicas=-1, strategy={"type": "BlueGreen"}),
        [
            ("spec.replicas", "FieldValueInvalid"),
            ("spec.strategy.type", "FieldValueNotSupported"),
        ],
    ),
    (
        "deployment pods must restart always",
        "Deployment",
        lambda o: o["spec"]["template"]["spec"].update(restartPolicy="Never"),
        [("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
    ),
    (
        "missing template image named deep",
        "ReplicaSet",
        lambda o: o["spec"]["template"]["spec"]["containers"][0].pop("image"),
        [("spec.template.spec.containers[0].image", "FieldValueRequired")],
    ),
    (
        "job pods may not restart always",
        "Job",
        lambda o: o["spec"]["template"]["spec"].update(restartPolicy="Always"),
        [("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
    ),
    (
        "job pods need a restart policy",
        "Job",
        lambda o: o["spec"]["template"]["spec"].pop("restartPolicy"),
        [("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
    ),
    (
        "cronjob schedule and policy",
        "CronJob",
        lambda o: o["spec"].update(schedule="every minute", concurrencyPolicy="Sometimes"),
        [
            ("spec.schedule", "FieldValueInvalid"),
            ("spec.concurrencyPolicy", "FieldValueNotSupported"),
        ],
    ),
    (
        "cronjob schedule required",
        "CronJob",
        lambda o: o["spec"].pop("schedule"),
        [("spec.schedule", "FieldValueRequired")],
    ),
    (
        "service port range, target port name, type, affinity",
        "Service",
        lambda o: o["spec"].update(
            type="Internal",
            sessionAffinity="Sticky",
            ports=[
                {"name": "a", "port": 0},
                {"name": "b", "port": 80, "targetPort": "Not_A_Name"},
            ],
        ),
        [
            ("spec.type", "FieldValueNotSupported"),
            ("spec.ports[0].port", "FieldValueInvalid"),
            ("spec.ports[1].targetPort", "FieldValueInvalid"),
            ("spec.sessionAffinity", "FieldValueNotSupported"),
        ],
    ),
    (
        "string service port",
        "Service",
        lambda o: o["spec"]["ports"][0].update(port="80"),
        [("spec.ports[0].port", "FieldValueInvalid")],
    ),
    (
        "service needs ports",
        "Service",
        lambda o: o["spec"].pop("ports"),
        [("spec.ports", "FieldValueRequired")],
    ),
    (
        "headless service needs none",
        "Service",
        lambda o: o["spec"].update(ports=None, clusterIP="None"),
        [],
    ),
    (
        "external name service needs none",
        "Service",
        lambda o: o["spec"].update(ports=None, type="ExternalName", externalName="example.com"),
        [],
    ),
    (
        "port names needed and unique",
        "Service",
        lambda o: o["spec"].update(
            ports=[{"port": 80}, {"name": "b", "port": 81}, {"name": "b", "port": 82}]
        ),
        [
            ("spec.ports[0].name", "FieldValueRequired"),
            ("spec.ports[2].name", "FieldValueDuplicate"),
        ],
    ),
    (
        "configmap key",
        "ConfigMap",
        lambda o: o["data"].update({"bad key": "x"}),
        [("data[bad key]", "FieldValueInvalid")],
    ),
    (
        "secret value not base64",
        "Secret",
        lambda o: o["data"].update(token="not base64!"),
        [("data[token]", "FieldValueInvalid")],
    ),
    (
        "endpoints address",
        "Endpoints",
        lambda o: o["subsets"][0]["addresses"].append({"ip": "nope"}),
        [("subsets[0].addresses[1].ip", "FieldValueInvalid")],
    ),
    (
        "node taint effect",
        "Node",
        lambda o: o["spec"]["taints"][0].update(effect="Maybe"),
        [("spec.taints[0].effect", "FieldValueNotSupported")],
    ),
    (
        "event needs involvedObject",
        "Event",
        lambda o: o.pop("involvedObject"),
        [("involvedObject", "FieldValueRequired")],
    ),
    (
        "lease types",
        "Lease",
        lambda o: o["spec"].update(leaseDurationSeconds="15", holderIdentity=3),
        [
            ("spec.holderIdentity", "FieldValueInvalid"),
            ("spec.leaseDurationSeconds", "FieldValueInvalid"),
        ],
    ),
    (
        "pvc access mode",
        "PersistentVolumeClaim",
        lambda o: o["spec"].update(accessModes=["ReadSometimes"]),
        [("spec.accessModes[0]", "FieldValueNotSupported")],
    ),
    (
        "unknown kinds get the metadata checks only",
        "App",
        lambda o: o["metadata"].update(name="Bad_Name"),
        [("metadata.name", "FieldValueInvalid")],
    ),
]


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_objects_report_exact_causes(
    kind: str, mutate: Mutation, expected: list[tuple[str, str]]
) -> None:
    obj = valid_objects()[kind]
    mutate(obj)
    assert sorted(check(kind, obj)) == sorted(expected)


def test_every_bad_field_is_reported_at_once() -> None:
    obj = valid_objects()["Deployment"]
    obj["metadata"]["name"] = "Bad_Name"
    obj["spec"]["replicas"] = "3"
    obj["spec"].pop("selector")
    containers = obj["spec"]["template"]["spec"]["containers"]
    containers[0].pop("image")
    containers.append({"name": "side", "image": "x", "ports": [{"containerPort": 0}]})
    assert check("Deployment", obj) == [
        ("metadata.name", "FieldValueInvalid"),
        ("spec.replicas", "FieldValueInvalid"),
        ("spec.selector", "FieldValueRequired"),
        ("spec.template.spec.containers[0].image", "FieldValueRequired"),
        ("spec.template.spec.containers[1].ports[0].containerPort", "FieldValueInvalid"),
    ]


@pytest.mark.parametrize(
    ("kind", "mutate", "cause"),
    [
        (
            "Deployment",
            lambda o: o["metadata"].update(name="Bad_Name"),
            Cause(
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "Bad_Name": {SUBDOMAIN_MESSAGE}',
            ),
        ),
        (
            "Service",
            lambda o: o["spec"]["ports"][0].update(port="80"),
            Cause(
                "spec.ports[0].port",
                "FieldValueInvalid",
                'Invalid value: "80": spec.ports[0].port must be an integer',
            ),
        ),
        (
            "Service",
            lambda o: o["spec"].update(type="Foo"),
            Cause(
                "spec.type",
                "FieldValueNotSupported",
                'Unsupported value: "Foo": supported values: '
                '"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"',
            ),
        ),
        (
            "Deployment",
            lambda o: o["spec"].pop("selector"),
            Cause("spec.selector", "FieldValueRequired", "Required value"),
        ),
        (
            "Pod",
            lambda o: o["spec"]["containers"].append(container()),
            Cause("spec.containers[1].name", "FieldValueDuplicate", 'Duplicate value: "app"'),
        ),
        (
            "Pod",
            lambda o: o["spec"]["containers"][0]["ports"][0].update(containerPort=0),
            Cause(
                "spec.containers[0].ports[0].containerPort",
                "FieldValueInvalid",
                "Invalid value: 0: must be between 1 and 65535, inclusive",
            ),
        ),
    ],
)
def test_cause_messages_match_kubernetes(kind: str, mutate: Mutation, cause: Cause) -> None:
    obj = valid_objects()[kind]
    mutate(obj)
    assert validate(kind, obj, namespaced=True) == [cause]


@pytest.mark.parametrize(
    ("kind", "api_version", "expected"),
    [
        ("Deployment", "apps/v1", [("spec.selector", "FieldValueRequired")]),
        ("Deployment.apps", "apps/v1", [("spec.selector", "FieldValueRequired")]),
        ("Deployment", "example.com/v1", []),  # another group's Deployment: metadata only
    ],
)
def test_kind_is_looked_up_with_its_group(
    kind: str, api_version: str, expected: list[tuple[str, str]]
) -> None:
    obj = valid_objects()["Deployment"]
    obj["apiVersion"] = api_version
    obj["spec"].pop("selector")
    assert check(kind, obj) == expected


def deep_typo() -> dict[str, Any]:
    obj = valid_objects()["Deployment"]
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "nginx"
    return obj


@pytest.mark.parametrize(
    ("kind", "build", "expected"),
    [
        ("Deployment", deep_typo, ["spec.template.spec.containers[0].imagee"]),
        (
            "Deployment",
            lambda: {**valid_objects()["Deployment"], "extra": 1, "status": {"anything": 1}},
            ["extra"],
        ),
        (
            "Pod",
            lambda: {
                **valid_objects()["Pod"],
                "metadata": meta(labls={"a": "b"}),
            },
            ["metadata.labls"],
        ),
        (
            "Pod",
            lambda: {
                "metadata": meta(),
                "spec": {
                    "containers": [container(securityContext={"whatever": True})],
                    "affinity": {"nodeAffinity": {"madeUp": 1}},
                    "volumes": [{"name": "v", "projected": {"sources": [{"odd": 1}]}}],
                },
            },
            [],
        ),
        (
            "Service",
            lambda: {"metadata": meta(), "spec": {"ports": [{"port": 80, "targetport": 8080}]}},
            ["spec.ports[0].targetport"],
        ),
        (
            "Secret",
            lambda: {"metadata": meta(), "data": {"any key": "x"}, "strngData": {}},
            ["strngData"],
        ),
        ("App", lambda: valid_objects()["App"], []),
        (
            "App",
            lambda: {**valid_objects()["App"], "metadata": meta(nam="x")},
            ["metadata.nam"],
        ),
        (
            "Service",
            lambda: {"apiVersion": "serving.knative.dev/v1", "metadata": meta(), "spec": {"x": 1}},
            [],
        ),
    ],
)
def test_find_unknown_fields(
    kind: str, build: Callable[[], dict[str, Any]], expected: list[str]
) -> None:
    assert find_unknown_fields(kind, build()) == expected


def test_unknown_fields_are_not_validation_errors() -> None:
    obj = deep_typo()
    assert validate("Deployment", obj, namespaced=True) == []


def with_changes(kind: str, change: Mutation) -> tuple[dict[str, Any], dict[str, Any]]:
    old = valid_objects()[kind]
    new = copy.deepcopy(old)
    change(new)
    return old, new


UPDATE_CASES: list[tuple[str, str, Mutation, list[tuple[str, str]]]] = [
    ("scale", "Deployment", lambda o: o["spec"].update(replicas=5), []),
    (
        "selector",
        "Deployment",
        lambda o: o["spec"].update(selector={"matchLabels": {"app": "x"}}),
        [("spec.selector", "FieldValueInvalid")],
    ),
    (
        "rs selector",
        "ReplicaSet",
        lambda o: o["spec"].update(selector={"matchLabels": {"app": "x"}}),
        [("spec.selector", "FieldValueInvalid")],
    ),
    ("pod image", "Pod", lambda o: o["spec"]["containers"][0].update(image="nginx:2"), []),
    (
        "pod tolerations added",
        "Pod",
        lambda o: o["spec"]["tolerations"].append({"operator": "Exists"}),
        [],
    ),
    ("pod binding", "Pod", lambda o: o["spec"].update(nodeName="node-1"), []),
    ("pod labels", "Pod", lambda o: o["metadata"].update(labels={"x": "y"}), []),
    (
        "pod restart policy",
        "Pod",
        lambda o: o["spec"].update(restartPolicy="Never"),
        [("spec", "FieldValueForbidden")],
    ),
    (
        "pod tolerations removed",
        "Pod",
        lambda o: o["spec"].update(tolerations=[]),
        [("spec", "FieldValueForbidden")],
    ),
    (
        "service cluster ip",
        "Service",
        lambda o: o["spec"].update(clusterIP="10.96.0.2"),
        [],
    ),
    (
        "mutable configmap data",
        "ConfigMap",
        lambda o: o["data"].update(more="x"),
        [],
    ),
    (
        "job template",
        "Job",
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(image="x:2"),
        [("spec.template", "FieldValueInvalid")],
    ),
    ("job suspend", "Job", lambda o: o["spec"].update(suspend=True), []),
]


@pytest.mark.parametrize(
    ("kind", "change", "expected"),
    [case[1:] for case in UPDATE_CASES],
    ids=[case[0] for case in UPDATE_CASES],
)
def test_validate_update(kind: str, change: Mutation, expected: list[tuple[str, str]]) -> None:
    old, new = with_changes(kind, change)
    assert [(c.field, c.reason) for c in validate_update(kind, old, new)] == expected


@pytest.mark.parametrize(
    ("old_ip", "new_ip", "expected"),
    [
        ("10.96.0.1", "10.96.0.1", []),
        ("10.96.0.1", "10.96.0.2", [("spec.clusterIP", "FieldValueInvalid")]),
        ("", "10.96.0.2", []),
        ("10.96.0.1", None, []),  # left out: the server keeps the allocated one
    ],
)
def test_service_cluster_ip_is_immutable_once_set(
    old_ip: str, new_ip: str | None, expected: list[tuple[str, str]]
) -> None:
    old = valid_objects()["Service"]
    old["spec"]["clusterIP"] = old_ip
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = new_ip
    assert [(c.field, c.reason) for c in validate_update("Service", old, new)] == expected


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_immutable_data_may_not_change(kind: str) -> None:
    old = valid_objects()[kind]
    old["immutable"] = True
    new = copy.deepcopy(old)
    new["data"]["extra"] = "eA=="
    new["metadata"]["labels"] = {"a": "b"}
    assert [(c.field, c.reason) for c in validate_update(kind, old, new)] == [
        ("data", "FieldValueForbidden")
    ]
    new["immutable"] = False
    assert ("immutable", "FieldValueForbidden") in [
        (c.field, c.reason) for c in validate_update(kind, old, new)
    ]


def test_pod_update_message_names_the_changed_fields() -> None:
    old, new = with_changes("Pod", lambda o: o["spec"].update(dnsPolicy="Default"))
    (cause,) = validate_update("Pod", old, new)
    assert cause.message.startswith("Forbidden: pod updates may not change fields other than")
    assert "spec.dnsPolicy" in cause.message


@pytest.mark.parametrize(
    ("causes", "expected"),
    [
        (
            [Cause("metadata.name", "FieldValueInvalid", 'Invalid value: "Bad_Name": x')],
            'Deployment.apps "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": x',
        ),
        (
            [
                Cause("spec.selector", "FieldValueRequired", "Required value"),
                Cause("spec.template.metadata.labels", "FieldValueInvalid", "Invalid value: y"),
            ],
            'Deployment.apps "Bad_Name" is invalid: [spec.selector: Required value, '
            "spec.template.metadata.labels: Invalid value: y]",
        ),
    ],
)
def test_format_invalid_message(causes: list[Cause], expected: str) -> None:
    assert format_invalid_message("Deployment.apps", "Bad_Name", causes) == expected


@pytest.mark.parametrize(
    ("check_name", "value", "ok"),
    [
        (check_dns1123_subdomain, "example.com", True),
        (check_dns1123_subdomain, "Bad_Name", False),
        (check_dns1123_subdomain, "a" * 254, False),
        (check_dns1123_label, "my-name", True),
        (check_dns1123_label, "a.b", False),
        (check_dns1123_label, "a" * 64, False),
        (check_dns1035_label, "abc-123", True),
        (check_dns1035_label, "123-abc", False),
        (check_qualified_name, "app.kubernetes.io/name", True),
        (check_qualified_name, "MyName", True),
        (check_qualified_name, "a/b/c", False),
        (check_qualified_name, "/name", False),
        (check_qualified_name, "Bad.Prefix/name", False),
        (check_label_value, "", True),
        (check_label_value, "my_value", True),
        (check_label_value, "-bad", False),
        (check_config_key, "key.name", True),
        (check_config_key, "..hidden", False),
        (check_config_key, "a/b", False),
        (check_port_name, "http", True),
        (check_port_name, "http-alt", True),
        (check_port_name, "80", False),
        (check_port_name, "a--b", False),
        (check_port_name, "averyveryverylongname", False),
        (check_quantity, "500m", True),
        (check_quantity, "1Gi", True),
        (check_quantity, "1e3", True),
        (check_quantity, 2, True),
        (check_quantity, "1 Gi", False),
        (check_quantity, "-1", False),
    ],
)
def test_name_checks(check_name: Callable[[Any], list[str]], value: Any, ok: bool) -> None:
    assert (check_name(value) == []) is ok


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ("*/5 * * * *", True),
        ("0 3 * * MON-FRI", True),
        ("0,30 9-17 1 JAN *", True),
        ("@hourly", True),
        ("@every 1h30m", True),
        ("TZ=UTC 0 0 * * *", True),
        ("* * * *", False),
        ("@sometimes", False),
        ("every minute", False),
    ],
)
def test_cron_schedule_shapes(schedule: str, ok: bool) -> None:
    assert is_cron_schedule(schedule) is ok


SA_NAME = "kubernetes.io/service-account.name"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("secret_type", "data", "annotations", "expected"),
    [
        ("Opaque", {}, {}, []),
        ("example.com/custom", {}, {}, []),
        (
            "kubernetes.io/service-account-token",
            {},
            {},
            [("metadata.annotations[kubernetes.io/service-account.name]", "FieldValueRequired")],
        ),
        (
            "kubernetes.io/service-account-token",
            {},
            {"kubernetes.io/service-account.name": "r"},
            [],
        ),
        ("kubernetes.io/tls", {"tls.crt": b64("c"), "tls.key": b64("k")}, {}, []),
        ("kubernetes.io/tls", {"tls.crt": b64("c")}, {}, [("data[tls.key]", "FieldValueRequired")]),
        ("kubernetes.io/basic-auth", {"password": b64("p")}, {}, []),
        (
            "kubernetes.io/basic-auth",
            {},
            {},
            [("data[username]", "FieldValueRequired"), ("data[password]", "FieldValueRequired")],
        ),
        ("kubernetes.io/ssh-auth", {}, {}, [("data[ssh-privatekey]", "FieldValueRequired")]),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64('{"auths": {}}')}, {}, []),
        (
            "kubernetes.io/dockerconfigjson",
            {".dockerconfigjson": b64("{not json")},
            {},
            [("data[.dockerconfigjson]", "FieldValueInvalid")],
        ),
        ("kubernetes.io/dockercfg", {}, {}, [("data[.dockercfg]", "FieldValueRequired")]),
    ],
)
def test_each_secret_type_must_hold_its_keys(
    secret_type: str,
    data: dict[str, str],
    annotations: dict[str, str],
    expected: list[tuple[str, str]],
) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("s", annotations=annotations),
        "type": secret_type,
        "data": data,
    }
    assert check("Secret", obj) == expected


def test_a_secrets_type_is_immutable() -> None:
    old = valid_objects()["Secret"]
    old["type"] = "Opaque"
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/tls"
    new["data"].update({"tls.crt": b64("c"), "tls.key": b64("k")})
    (cause,) = validate_update("Secret", old, new)
    assert (cause.field, cause.message) == (
        "type",
        'Invalid value: "kubernetes.io/tls": field is immutable',
    )


def test_a_422_lists_at_most_a_thousand_causes_and_counts_the_rest() -> None:
    pod = {"metadata": meta("p"), "spec": {"containers": [{} for _ in range(2000)]}}
    causes = validate("Pod", pod, namespaced=True)
    assert len(causes) == 4000  # a name and an image missing in each
    error = invalid_error(BUILTIN_TYPES.require("", "Pod"), "p", causes)
    assert len(error.details["causes"]) == MAX_LISTED_CAUSES == 1000
    assert error.message.startswith('Pod "p" is invalid: [spec.containers[0].name: Required value')
    assert error.message.endswith(", and 3000 more errors not listed]")
    few = invalid_error(BUILTIN_TYPES.require("", "Pod"), "p", causes[:2])
    assert "not listed" not in few.message and len(few.details["causes"]) == 2

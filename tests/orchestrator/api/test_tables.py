"""The Table rendering for ``kubectl get``: exact cells for realistic objects, per kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.api.tables import (
    COLUMN_SETS,
    Column,
    ColumnSet,
    build_table,
    human_duration,
)

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    """An RFC 3339 timestamp that far before NOW."""
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, *, age_seconds: float = 186, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "resourceVersion": "42",
        "creationTimestamp": ago(seconds=age_seconds),
        **extra,
    }


def cells(kind: str, obj: dict[str, Any]) -> list[Any]:
    row: list[Any] = build_table(kind, [obj], now=NOW)["rows"][0]["cells"]
    return row


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-2, "<invalid>"),
        (-1.5, "0s"),
        (-1, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (45, "45s"),
        (119.9, "119s"),
        (120, "2m"),
        (186, "3m6s"),
        (300, "5m"),
        (599, "9m59s"),
        (600, "10m"),
        (720, "12m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 180, "5h3m"),
        (8 * 3600 - 1, "7h59m"),
        (8 * 3600, "8h"),
        (48 * 3600 - 1, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400, "3d"),
        (3 * 86400 + 5 * 3600, "3d5h"),
        (8 * 86400 - 1, "7d23h"),
        (8 * 86400, "8d"),
        (2 * 365 * 86400 - 1, "729d"),
        (2 * 365 * 86400, "2y"),
        ((2 * 365 + 45) * 86400, "2y45d"),
        (8 * 365 * 86400 - 1, "7y364d"),
        (8 * 365 * 86400, "8y"),
        ((10 * 365 + 100) * 86400, "10y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


# -- Pod -----------------------------------------------------------------------

CONTAINER = {"name": "web", "image": "nginx:1.25"}


def pod(
    name: str,
    *,
    phase: str,
    statuses: list[dict[str, Any]] | None = None,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, **metadata),
        "spec": {"containers": [CONTAINER], **(spec or {})},
        "status": {"phase": phase, "containerStatuses": statuses or [], **(status or {})},
    }


def container_status(state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "web",
        "image": "nginx:1.25",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": state,
        **extra,
    }


RUNNING = container_status({"running": {"startedAt": ago(seconds=180)}}, ready=True)
RUNNING_POD = pod(
    "web-7d4b9c-x2x4z",
    phase="Running",
    statuses=[RUNNING],
    spec={"nodeName": "node-1"},
    status={
        "podIP": "10.244.0.11",
        "podIPs": [{"ip": "10.244.0.11"}],
        "conditions": [{"type": "Ready", "status": "True"}],
    },
)
PENDING_POD = pod("web-pending", phase="Pending", age_seconds=45)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            RUNNING_POD,
            [
                "web-7d4b9c-x2x4z",
                "1/1",
                "Running",
                0,
                "3m6s",
                "10.244.0.11",
                "node-1",
                "<none>",
                "<none>",
            ],
        ),
        (
            PENDING_POD,
            ["web-pending", "0/1", "Pending", 0, "45s", "<none>", "<none>", "<none>", "<none>"],
        ),
    ],
)
def test_pod_row_has_every_column(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("Pod", obj) == expected


WAITING_CREATE = container_status({"waiting": {"reason": "ContainerCreating"}})
CRASHING = container_status(
    {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
    restartCount=3,
    lastState={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(seconds=45)}},
)
COMPLETED = container_status({"terminated": {"exitCode": 0, "reason": "Completed"}})
KILLED = container_status({"terminated": {"exitCode": 137, "signal": 9}})
EXIT_CODE = container_status({"terminated": {"exitCode": 2}})
INIT = {"name": "migrate", "image": "migrate:1"}
SIDECAR = {"name": "proxy", "image": "envoy:1", "restartPolicy": "Always"}


def init_status(name: str, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**container_status(state, **extra), "name": name}


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        (pod("p", phase="Pending", statuses=[WAITING_CREATE]), "0/1", "ContainerCreating", 0),
        (pod("p", phase="Running", statuses=[CRASHING]), "0/1", "CrashLoopBackOff", "3 (45s ago)"),
        (pod("p", phase="Running", statuses=[{**RUNNING, "restartCount": 2}]), "1/1", "Running", 2),
        (pod("p", phase="Succeeded", statuses=[COMPLETED]), "0/1", "Completed", 0),
        (pod("p", phase="Failed", statuses=[KILLED]), "0/1", "Signal:9", 0),
        (pod("p", phase="Failed", statuses=[EXIT_CODE]), "0/1", "ExitCode:2", 0),
        (
            pod("p", phase="Failed", status={"reason": "Evicted"}),
            "0/1",
            "Evicted",
            0,
        ),
        (
            pod("p", phase="Running", statuses=[RUNNING], deletionTimestamp=ago(seconds=1)),
            "1/1",
            "Terminating",
            0,
        ),
        (
            pod("p", phase="Succeeded", statuses=[COMPLETED], deletionTimestamp=ago(seconds=1)),
            "0/1",
            "Completed",
            0,
        ),
        (
            pod(
                "p",
                phase="Running",
                statuses=[RUNNING],
                status={"reason": "NodeLost"},
                deletionTimestamp=ago(seconds=1),
            ),
            "1/1",
            "Unknown",
            0,
        ),
        (
            pod(
                "p",
                phase="Pending",
                spec={"initContainers": [INIT]},
                status={
                    "initContainerStatuses": [
                        init_status("migrate", {"waiting": {"reason": "PodInitializing"}})
                    ]
                },
            ),
            "0/1",
            "Init:0/1",
            0,
        ),
        (
            pod(
                "p",
                phase="Pending",
                spec={"initContainers": [INIT]},
                status={
                    "initContainerStatuses": [
                        init_status("migrate", {"waiting": {"reason": "ImagePullBackOff"}})
                    ]
                },
            ),
            "0/1",
            "Init:ImagePullBackOff",
            0,
        ),
        (
            pod(
                "p",
                phase="Pending",
                spec={"initContainers": [INIT]},
                status={
                    "initContainerStatuses": [
                        init_status("migrate", {"terminated": {"exitCode": 3}}, restartCount=1)
                    ]
                },
            ),
            "0/1",
            "Init:ExitCode:3",
            1,
        ),
        (
            pod(
                "p",
                phase="Running",
                statuses=[RUNNING],
                spec={"initContainers": [INIT, SIDECAR]},
                status={
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [
                        init_status("migrate", {"terminated": {"exitCode": 0}}, restartCount=4),
                        init_status(
                            "proxy", {"running": {}}, started=True, ready=True, restartCount=1
                        ),
                    ],
                },
            ),
            "2/2",
            "Running",
            1,
        ),
        (
            pod(
                "p",
                phase="Pending",
                status={
                    "conditions": [
                        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                    ]
                },
            ),
            "0/1",
            "SchedulingGated",
            0,
        ),
    ],
)
def test_pod_ready_status_and_restarts(
    obj: dict[str, Any], ready: str, status: str, restarts: int | str
) -> None:
    assert cells("Pod", obj)[1:4] == [ready, status, restarts]


def test_pod_completed_container_with_a_running_one_is_running_or_not_ready() -> None:
    statuses = [COMPLETED, {**RUNNING, "name": "side"}]
    ready_condition = {"conditions": [{"type": "Ready", "status": "True"}]}
    assert cells("Pod", pod("p", phase="Running", statuses=statuses))[2] == "NotReady"
    running = pod("p", phase="Running", statuses=statuses, status=ready_condition)
    assert cells("Pod", running)[2] == "Running"


def test_pod_wide_columns_show_nominated_node_and_readiness_gates() -> None:
    obj = pod(
        "p",
        phase="Running",
        statuses=[RUNNING],
        spec={"readinessGates": [{"conditionType": "a/x"}, {"conditionType": "a/y"}]},
        status={
            "podIP": "10.244.1.2",
            "nominatedNodeName": "node-2",
            "conditions": [{"type": "a/x", "status": "True"}, {"type": "a/y", "status": "False"}],
        },
    )
    assert cells("Pod", obj)[5:] == ["10.244.1.2", "<none>", "node-2", "1/2"]


# -- workloads -----------------------------------------------------------------

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [CONTAINER, {"name": "log", "image": "busybox"}]},
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": meta("web", age_seconds=5 * 3600 + 180),
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
    "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2},
}


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        (
            "Deployment",
            DEPLOYMENT,
            ["web", "2/3", 3, 2, "5h3m", "web,log", "nginx:1.25,busybox", "app=web"],
        ),
        (
            "Deployment",
            {"metadata": meta("new"), "spec": {"template": TEMPLATE}},
            ["new", "0/1", 0, 0, "3m6s", "web,log", "nginx:1.25,busybox", ""],
        ),
        (
            "ReplicaSet",
            {**DEPLOYMENT, "kind": "ReplicaSet", "metadata": meta("web-7d4b9c")},
            ["web-7d4b9c", 3, 3, 2, "3m6s", "web,log", "nginx:1.25,busybox", "app=web"],
        ),
        (
            "ReplicaSet",
            {"metadata": meta("rs"), "spec": {"replicas": 0, "selector": {}}},
            ["rs", 0, 0, 0, "3m6s", "", "", "<none>"],
        ),
        (
            "Job",
            {
                "metadata": meta("migrate"),
                "spec": {"completions": 3, "template": TEMPLATE},
                "status": {
                    "succeeded": 3,
                    "startTime": ago(seconds=180),
                    "completionTime": ago(seconds=135),
                },
            },
            ["migrate", "3/3", "45s", "3m6s", "web,log", "nginx:1.25,busybox", "<none>"],
        ),
        (
            "Job",
            {
                "metadata": meta("running"),
                "spec": {"parallelism": 2, "template": TEMPLATE},
                "status": {"succeeded": 0, "startTime": ago(seconds=600)},
            },
            ["running", "0/1 of 2", "10m", "3m6s", "web,log", "nginx:1.25,busybox", "<none>"],
        ),
        ("Job", {"metadata": meta("j")}, ["j", "0/1", "", "3m6s", "", "", "<none>"]),
        (
            "CronJob",
            {
                "metadata": meta("nightly", age_seconds=3 * 86400),
                "spec": {
                    "schedule": "0 3 * * *",
                    "suspend": False,
                    "jobTemplate": {"spec": {"template": TEMPLATE}},
                },
                "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(hours=9)},
            },
            [
                "nightly",
                "0 3 * * *",
                "False",
                1,
                "9h",
                "3d",
                "web,log",
                "nginx:1.25,busybox",
                "<none>",
            ],
        ),
        (
            "CronJob",
            {"metadata": meta("off"), "spec": {"schedule": "@hourly", "suspend": True}},
            ["off", "@hourly", "True", 0, "<none>", "3m6s", "", "", "<none>"],
        ),
    ],
)
def test_workload_rows(kind: str, obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells(kind, obj) == expected


# -- networking ----------------------------------------------------------------


def service(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "Service", "metadata": meta("web"), "spec": spec, "status": status or {}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            service(
                {
                    "type": "NodePort",
                    "clusterIP": "10.96.0.20",
                    "clusterIPs": ["10.96.0.20"],
                    "selector": {"tier": "fe", "app": "web"},
                    "ports": [
                        {"port": 80, "nodePort": 30080, "protocol": "TCP", "targetPort": 8080},
                        {"port": 53, "nodePort": 30053, "protocol": "UDP"},
                    ],
                }
            ),
            [
                "web",
                "NodePort",
                "10.96.0.20",
                "<none>",
                "80:30080/TCP,53:30053/UDP",
                "3m6s",
                "app=web,tier=fe",
            ],
        ),
        (
            service({"clusterIP": "10.96.0.21", "ports": [{"port": 80}]}),
            ["web", "ClusterIP", "10.96.0.21", "<none>", "80/TCP", "3m6s", "<none>"],
        ),
        (
            service({"clusterIP": "None", "selector": {"app": "db"}}),
            ["web", "ClusterIP", "None", "<none>", "<none>", "3m6s", "app=db"],
        ),
        (
            service({"type": "ClusterIP", "externalIPs": ["192.0.2.1", "192.0.2.2"]}),
            ["web", "ClusterIP", "<none>", "192.0.2.1,192.0.2.2", "<none>", "3m6s", "<none>"],
        ),
        (
            service({"type": "LoadBalancer", "clusterIP": "10.96.0.22"}),
            ["web", "LoadBalancer", "10.96.0.22", "<pending>", "<none>", "3m6s", "<none>"],
        ),
        (
            service(
                {"type": "LoadBalancer", "clusterIP": "10.96.0.22"},
                {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example"}]}},
            ),
            [
                "web",
                "LoadBalancer",
                "10.96.0.22",
                "203.0.113.9,lb.example",
                "<none>",
                "3m6s",
                "<none>",
            ],
        ),
        (
            service({"type": "ExternalName", "externalName": "db.example.com"}),
            ["web", "ExternalName", "<none>", "db.example.com", "<none>", "3m6s", "<none>"],
        ),
    ],
)
def test_service_rows(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("Service", obj) == expected


def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Endpoints", "metadata": meta("web"), "subsets": list(subsets)}


def addresses(*ips: str) -> list[dict[str, str]]:
    return [{"ip": ip} for ip in ips]


@pytest.mark.parametrize(
    ("obj", "text"),
    [
        (endpoints(), "<none>"),
        ({"kind": "Endpoints", "metadata": meta("web")}, "<none>"),
        (
            endpoints(
                {"addresses": addresses("10.244.0.11", "10.244.0.12"), "ports": [{"port": 8080}]}
            ),
            "10.244.0.11:8080,10.244.0.12:8080",
        ),
        (
            endpoints(
                {"addresses": addresses("10.0.0.1", "10.0.0.2"), "ports": [{"port": 80}]},
                {
                    "addresses": addresses("10.0.0.3", "10.0.0.4", "10.0.0.5"),
                    "ports": [{"port": 80}],
                },
            ),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...",
        ),
        (
            endpoints({"addresses": addresses("10.0.0.1"), "ports": [{"port": 80}, {"port": 443}]}),
            "10.0.0.1:80,10.0.0.1:443",
        ),
        (endpoints({"addresses": addresses("10.0.0.1", "10.0.0.2")}), "10.0.0.1,10.0.0.2"),
        (endpoints({"addresses": addresses("fd00::1"), "ports": [{"port": 80}]}), "[fd00::1]:80"),
        (
            endpoints({"notReadyAddresses": addresses("10.0.0.9"), "ports": [{"port": 80}]}),
            "",
        ),
    ],
)
def test_endpoints_rows(obj: dict[str, Any], text: str) -> None:
    assert cells("Endpoints", obj) == ["web", text, "3m6s"]


# -- configuration and cluster -------------------------------------------------

NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "name": "node-1",
        "creationTimestamp": ago(days=3, hours=5),
        "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "n1"},
    },
    "spec": {"podCIDR": "10.244.0.0/24"},
    "status": {
        "conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "KubeletReady"},
        ],
        "addresses": [
            {"type": "InternalIP", "address": "192.168.1.10"},
            {"type": "Hostname", "address": "node-1"},
        ],
        "nodeInfo": {
            "kubeletVersion": "v1.31.0",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
            "kernelVersion": "6.1.0-18-amd64",
            "containerRuntimeVersion": "process://0.1.0",
            "architecture": "amd64",
        },
    },
}
EVENT = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": meta("web-1.17a9c", age_seconds=300),
    "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u"},
    "reason": "Scheduled",
    "message": "Successfully assigned default/web-1 to node-1\n",
    "type": "Normal",
    "source": {"component": "default-scheduler"},
    "firstTimestamp": ago(seconds=300),
    "lastTimestamp": ago(seconds=45),
    "count": 3,
}


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        (
            "Node",
            NODE,
            [
                "node-1",
                "Ready",
                "control-plane",
                "3d5h",
                "v1.31.0",
                "192.168.1.10",
                "<none>",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0-18-amd64",
                "process://0.1.0",
            ],
        ),
        (
            "Node",
            {
                "metadata": {
                    "name": "n2",
                    "labels": {"kubernetes.io/role": "edge", "node-role.kubernetes.io/gpu": ""},
                },
                "spec": {"unschedulable": True},
                "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
            },
            [
                "n2",
                "NotReady,SchedulingDisabled",
                "edge,gpu",
                "<unknown>",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>",
            ],
        ),
        (
            "Node",
            {"metadata": {"name": "n3"}},
            [
                "n3",
                "Unknown",
                "<none>",
                "<unknown>",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>",
            ],
        ),
        (
            "Event",
            EVENT,
            [
                "45s",
                "Normal",
                "Scheduled",
                "pod/web-1",
                "",
                "default-scheduler",
                "Successfully assigned default/web-1 to node-1",
                "5m",
                3,
                "web-1.17a9c",
            ],
        ),
        (
            "Event",
            {
                "metadata": meta("n.1"),
                "involvedObject": {"kind": "Node", "fieldPath": "spec"},
                "type": "Warning",
                "reason": "Rebooted",
                "eventTime": "2024-01-01T11:59:00.000000Z",
                "series": {"count": 7, "lastObservedTime": "2024-01-01T11:59:50.123456Z"},
                "reportingController": "paas/kubelet",
                "reportingInstance": "node-1",
            },
            [
                "9s",
                "Warning",
                "Rebooted",
                "node",
                "spec",
                "paas/kubelet, node-1",
                "",
                "60s",
                7,
                "n.1",
            ],
        ),
        (
            "ConfigMap",
            {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}},
            ["cfg", 3, "3m6s"],
        ),
        ("ConfigMap", {"metadata": meta("empty")}, ["empty", 0, "3m6s"]),
        (
            "Secret",
            {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"a": "", "b": ""}},
            ["tls", "kubernetes.io/tls", 2, "3m6s"],
        ),
        ("Namespace", {"metadata": meta("apps")}, ["apps", "Active", "3m6s"]),
        (
            "Namespace",
            {"metadata": meta("old"), "status": {"phase": "Terminating"}},
            ["old", "Terminating", "3m6s"],
        ),
        (
            "Lease",
            {"metadata": meta("node-1"), "spec": {"holderIdentity": "node-1"}},
            ["node-1", "node-1", "3m6s"],
        ),
        (
            "PersistentVolumeClaim",
            {
                "metadata": meta("data"),
                "spec": {"volumeName": "pv-1", "storageClassName": "local"},
                "status": {
                    "phase": "Bound",
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                },
            },
            ["data", "Bound", "pv-1", "1Gi", "RWO,RWX", "local", "3m6s", "<unset>"],
        ),
        (
            "PersistentVolumeClaim",
            {"metadata": meta("wait"), "spec": {}, "status": {"phase": "Pending"}},
            ["wait", "Pending", "", "", "", "", "3m6s", "<unset>"],
        ),
        (
            "CustomResourceDefinition",
            {"metadata": meta("apps.paas.dev")},
            ["apps.paas.dev", "2024-01-01T11:56:54Z"],
        ),
        (
            "ValidatingWebhookConfiguration",
            {"metadata": meta("policy"), "webhooks": [{"name": "a.example.com"}, {"name": "b"}]},
            ["policy", 2, "3m6s"],
        ),
        ("MutatingWebhookConfiguration", {"metadata": meta("inject")}, ["inject", 0, "3m6s"]),
        ("App", {"metadata": meta("myapp")}, ["myapp", "3m6s"]),
        ("Widget", {"metadata": {"name": "w"}}, ["w", "<unknown>"]),
    ],
)
def test_cluster_and_config_rows(kind: str, obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells(kind, obj) == expected


# -- column definitions ----------------------------------------------------------


def columns(kind: str) -> list[tuple[str, str, str, int]]:
    table = build_table(kind, [], now=NOW)
    return [(c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]]


@pytest.mark.parametrize(
    ("kind", "default", "wide"),
    [
        ("Pod", ["Name", "Ready", "Status", "Restarts", "Age"], ["IP", "Node", "Nominated Node"]),
        ("Deployment", ["Name", "Ready", "Up-to-date", "Available", "Age"], ["Containers"]),
        ("ReplicaSet", ["Name", "Desired", "Current", "Ready", "Age"], ["Images", "Selector"]),
        ("Service", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"], ["Selector"]),
        ("Endpoints", ["Name", "Endpoints", "Age"], []),
        ("ConfigMap", ["Name", "Data", "Age"], []),
        ("Secret", ["Name", "Type", "Data", "Age"], []),
        ("Namespace", ["Name", "Status", "Age"], []),
        ("Node", ["Name", "Status", "Roles", "Age", "Version"], ["Internal-IP", "OS-Image"]),
        ("Event", ["Last Seen", "Type", "Reason", "Object", "Message"], ["Source", "Count"]),
        ("Job", ["Name", "Completions", "Duration", "Age"], ["Containers"]),
        ("CronJob", ["Name", "Schedule", "Suspend", "Active", "Last Schedule", "Age"], []),
        ("Lease", ["Name", "Holder", "Age"], []),
        ("PersistentVolumeClaim", ["Name", "Status", "Volume", "Capacity"], ["VolumeMode"]),
        ("CustomResourceDefinition", ["Name", "Created At"], []),
        ("ValidatingWebhookConfiguration", ["Name", "Webhooks", "Age"], []),
        ("App", ["Name", "Age"], []),
    ],
)
def test_column_priorities(kind: str, default: list[str], wide: list[str]) -> None:
    defined = columns(kind)
    shown = [name for name, _, _, priority in defined if priority == 0]
    hidden = [name for name, _, _, priority in defined if priority == 1]
    assert shown[: len(default)] == default
    assert set(wide) <= set(hidden)
    assert {priority for *_, priority in defined} <= {0, 1}


def test_pod_column_definitions_are_exact() -> None:
    assert columns("Pod") == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "integer", "", 0),
        ("Age", "string", "", 0),
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ]
    definition = build_table("Pod", [], now=NOW)["columnDefinitions"][0]
    assert set(definition) == {"name", "type", "format", "description", "priority"}
    assert definition["description"]


@pytest.mark.parametrize("kind", sorted(COLUMN_SETS))
def test_every_kind_renders_an_odd_object_with_one_cell_per_column(kind: str) -> None:
    odd = {"metadata": {"name": "x"}, "spec": {"containers": "nope", "ports": [1]}, "status": 3}
    table = build_table(kind, [odd, {}], now=NOW)
    names = [c["name"] for c in table["columnDefinitions"]]
    assert len([c for c in table["columnDefinitions"] if c["format"] == "name"]) == 1
    for row in table["rows"]:
        assert len(row["cells"]) == len(names)


# -- the Table envelope ----------------------------------------------------------


def test_table_envelope_with_metadata_objects() -> None:
    table = build_table(
        "Pod", [RUNNING_POD, PENDING_POD], now=NOW, resource_version="399", continue_token="abc"
    )
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "399", "continue": "abc"}
    assert [row["cells"][0] for row in table["rows"]] == ["web-7d4b9c-x2x4z", "web-pending"]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": RUNNING_POD["metadata"],
    }


def test_table_with_full_objects_and_without_objects() -> None:
    full = build_table("Pod", [RUNNING_POD], now=NOW, include_object="Object")
    assert full["rows"][0]["object"] == RUNNING_POD
    bare = build_table("Pod", [RUNNING_POD], now=NOW, include_object="None")
    assert "object" not in bare["rows"][0]
    assert bare["metadata"] == {"resourceVersion": ""}
    assert build_table("Pod", [], now=NOW)["rows"] == []


def test_table_rejects_an_unknown_include_object() -> None:
    with pytest.raises(ValueError, match="includeObject"):
        build_table("Pod", [], now=NOW, include_object="Everything")


def test_naive_now_is_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert build_table("Pod", [RUNNING_POD], now=naive)["rows"][0]["cells"][4] == "3m6s"


def test_more_kinds_are_added_by_passing_a_larger_mapping() -> None:
    app_columns = ColumnSet(
        (Column("Name", format="name"), Column("Branches", "integer")),
        lambda obj, now: [obj["metadata"]["name"], len(obj["spec"]["branches"])],
    )
    table = build_table(
        "App",
        [{"metadata": {"name": "myapp"}, "spec": {"branches": ["main", "x"]}}],
        now=NOW,
        column_sets={**COLUMN_SETS, "App": app_columns},
    )
    assert table["rows"][0]["cells"] == ["myapp", 2]
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Branches"]

"""The official ``kubernetes`` Python package, as it comes, over TLS with our kubeconfig.

Version 37 validates every response against pydantic models, so these tests
also check that what the server sends has every field the models require.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException
from support.apiserver import RunningAPI

NS = "default"


@pytest.fixture
def api_client(api: RunningAPI) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(api.kubeconfig))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


def pod_template(app: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [
                {
                    "name": app,
                    "image": "paas/stack:bookworm",
                    "command": ["python3", "-m", "http.server", "8080"],
                    "ports": [{"containerPort": 8080}],
                }
            ]
        },
    }


def deployment(name: str, replicas: int = 1) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name=name,
                            image="paas/stack:bookworm",
                            ports=[client.V1ContainerPort(container_port=8080)],
                        )
                    ]
                ),
            ),
        ),
    )


def names(items: list[Any]) -> list[str]:
    return sorted(item.metadata.name for item in items)


def test_version_and_discovery(api_client: client.ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert (info.major, info.minor) == ("1", "33")
    assert info.git_version == "v1.33.0+paas"
    assert "v1" in client.CoreApi(api_client).get_api_versions().versions
    group = client.AppsApi(api_client).get_api_group()
    assert group.preferred_version.group_version == "apps/v1"
    resources = client.AppsV1Api(api_client).get_api_resources()
    deployments = next(r for r in resources.resources if r.name == "deployments")
    assert deployments.short_names == ["deploy"]


def test_load_kube_config_as_documented(api: RunningAPI) -> None:
    """The way the package's README does it: a process-wide default configuration."""
    config.load_kube_config(config_file=str(api.kubeconfig))
    try:
        with client.ApiClient() as default_client:
            namespaces = client.CoreV1Api(default_client).list_namespace()
    finally:
        client.Configuration.set_default(None)
    assert {"default", "kube-system"} <= set(names(namespaces.items))


def test_configmap_lifecycle_and_conflicts(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map(
        NS,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="settings", labels={"app": "web"}), data={"a": "1"}
        ),
    )
    assert created.metadata.uid
    assert isinstance(created.metadata.resource_version, str)
    assert created.metadata.creation_timestamp is not None

    listed = core.list_namespaced_config_map(NS, label_selector="app=web")
    assert names(listed.items) == ["settings"]
    assert core.list_namespaced_config_map(NS, label_selector="app=other").items == []
    assert names(
        core.list_config_map_for_all_namespaces(field_selector="metadata.name=settings").items
    ) == ["settings"]

    read = core.read_namespaced_config_map("settings", NS)
    assert read.data == {"a": "1"}

    patched = core.patch_namespaced_config_map("settings", NS, {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    json_patched = core.patch_namespaced_config_map(
        "settings", NS, [{"op": "replace", "path": "/data/a", "value": "one"}]
    )
    assert json_patched.data == {"a": "one", "b": "2"}

    read.data = {"replaced": "yes"}  # read is now stale: two patches happened since
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("settings", NS, read)
    assert stale.value.status == 409
    fresh = core.read_namespaced_config_map("settings", NS)
    fresh.data = {"replaced": "yes"}
    replaced = core.replace_namespaced_config_map("settings", NS, fresh)
    assert replaced.data == {"replaced": "yes"}
    assert int(replaced.metadata.resource_version) > int(fresh.metadata.resource_version)

    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map(
            NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"))
        )
    assert exists.value.status == 409

    core.delete_namespaced_config_map("settings", NS)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("settings", NS)
    assert missing.value.status == 404
    with pytest.raises(ApiException) as missing:
        core.delete_namespaced_config_map("settings", NS)
    assert missing.value.status == 404


def test_pod_service_and_namespace_lifecycle(core: client.CoreV1Api) -> None:
    ns = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team")))
    assert ns.status.phase == "Active"
    assert "team" in names(core.list_namespace().items)
    core.patch_namespace("team", {"metadata": {"labels": {"owner": "me"}}})
    ns = core.read_namespace("team")
    assert ns.metadata.labels["owner"] == "me"
    ns.metadata.labels["owner"] = "you"
    assert core.replace_namespace("team", ns).metadata.labels["owner"] == "you"

    pod = core.create_namespaced_pod(
        "team",
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="p", labels={"app": "p"}),
            spec=client.V1PodSpec(
                containers=[
                    client.V1Container(
                        name="c", image="paas/stack:bookworm", command=["sleep", "3600"]
                    )
                ]
            ),
        ),
    )
    assert pod.spec.containers[0].image_pull_policy  # defaulted
    assert pod.status.phase == "Pending"
    assert names(core.list_namespaced_pod("team").items) == ["p"]
    assert names(core.list_pod_for_all_namespaces(label_selector="app=p").items) == ["p"]
    patched = core.patch_namespaced_pod("p", "team", {"metadata": {"labels": {"tier": "x"}}})
    assert patched.metadata.labels == {"app": "p", "tier": "x"}
    read = core.read_namespaced_pod("p", "team")
    read.metadata.annotations = {"note": "replaced"}
    assert core.replace_namespaced_pod("p", "team", read).metadata.annotations == {
        "note": "replaced"
    }

    svc = core.create_namespaced_service(
        "team",
        client.V1Service(
            metadata=client.V1ObjectMeta(name="s"),
            spec=client.V1ServiceSpec(
                selector={"app": "p"}, ports=[client.V1ServicePort(port=80, target_port=8080)]
            ),
        ),
    )
    assert svc.spec.cluster_ip
    assert svc.spec.ports[0].protocol == "TCP"
    assert names(core.list_namespaced_service("team").items) == ["s"]
    patched_svc = core.patch_namespaced_service(
        "s", "team", {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    )
    assert [p.target_port for p in patched_svc.spec.ports] == [9090]
    assert patched_svc.spec.cluster_ip == svc.spec.cluster_ip
    read_svc = core.read_namespaced_service("s", "team")
    read_svc.metadata.labels = {"replaced": "yes"}
    replaced_svc = core.replace_namespaced_service("s", "team", read_svc)
    assert replaced_svc.metadata.labels == {"replaced": "yes"}
    assert replaced_svc.spec.cluster_ip == svc.spec.cluster_ip

    core.delete_namespaced_service("s", "team")
    core.delete_namespaced_pod("p", "team", grace_period_seconds=0)
    assert core.list_namespaced_service("team").items == []
    core.delete_namespace("team")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_service("s", "team")
    assert missing.value.status == 404


def test_deployment_and_scale(apps: client.AppsV1Api, api_client: client.ApiClient) -> None:
    created = apps.create_namespaced_deployment(NS, deployment("web"))
    assert created.spec.replicas == 1
    assert created.metadata.generation == 1
    assert names(apps.list_namespaced_deployment(NS).items) == ["web"]

    scale = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert scale.spec.replicas == 3
    assert scale.status.selector == "app=web"
    read = apps.read_namespaced_deployment("web", NS)
    assert read.spec.replicas == 3
    assert read.metadata.generation == 2

    dyn = dynamic.DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    listed = deployments.get(namespace=NS)
    assert [d.metadata.name for d in listed.items] == ["web"]
    one = deployments.get(name="web", namespace=NS)
    assert one.spec.replicas == 3

    apps.delete_namespaced_deployment("web", NS)
    assert apps.list_namespaced_deployment(NS).items == []


def test_nodes_list_on_an_empty_cluster_and_after_registering(core: client.CoreV1Api) -> None:
    assert core.list_node().items == []
    node_info = client.V1NodeSystemInfo(
        architecture="amd64",
        boot_id="b",
        container_runtime_version="process://1",
        kernel_version="6.1.0",
        kube_proxy_version="v1.31.0",
        kubelet_version="v1.31.0",
        machine_id="m",
        operating_system="linux",
        os_image="Debian GNU/Linux 12",
        system_uuid="u",
    )
    node = client.V1Node(
        metadata=client.V1ObjectMeta(name="node-1", labels={"kubernetes.io/hostname": "node-1"}),
        spec=client.V1NodeSpec(pod_cidr="10.244.1.0/24"),
        status=client.V1NodeStatus(
            node_info=node_info,
            capacity={"cpu": "4", "memory": "8Gi", "pods": "110"},
            addresses=[client.V1NodeAddress(type="InternalIP", address="127.0.0.1")],
            conditions=[client.V1NodeCondition(type="Ready", status="True")],
        ),
    )
    created = core.create_node(node)
    assert created.status.node_info == node_info  # a registering node brings its status
    nodes = core.list_node().items
    assert names(nodes) == ["node-1"]
    assert nodes[0].status.node_info.kubelet_version == "v1.31.0"
    assert nodes[0].spec.pod_cidr == "10.244.1.0/24"
    patched = core.patch_node_status(
        "node-1",
        {
            "status": {
                "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]
            }
        },
    )
    assert [(c.type, c.status) for c in patched.status.conditions] == [("Ready", "False")]
    assert patched.status.node_info == node_info


def test_list_pages_and_delete_collection(core: client.CoreV1Api) -> None:
    for i in range(5):
        core.create_namespaced_config_map(
            NS,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(
                    name=f"c{i}", labels={"batch": "yes" if i < 4 else "no"}
                )
            ),
        )
    first = core.list_namespaced_config_map(NS, limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    rest = core.list_namespaced_config_map(NS, limit=10, _continue=first.metadata._continue)
    assert names(first.items + rest.items) == [f"c{i}" for i in range(5)]
    assert rest.metadata._continue is None
    core.delete_collection_namespaced_config_map(NS, label_selector="batch=yes")
    assert names(core.list_namespaced_config_map(NS).items) == ["c4"]


def test_events_create_and_list(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"))
    )
    event = core.create_namespaced_event(
        NS,
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="watched.1"),
            involved_object=client.V1ObjectReference(
                kind="ConfigMap",
                namespace=NS,
                name="watched",
                uid=cm.metadata.uid,
                api_version="v1",
            ),
            reason="Checked",
            message="looked at it",
            type="Normal",
            count=1,
            source=client.V1EventSource(component="e2e"),
            first_timestamp=cm.metadata.creation_timestamp,
            last_timestamp=cm.metadata.creation_timestamp,
        ),
    )
    assert event.involved_object.name == "watched"
    listed = core.list_namespaced_event(
        NS, field_selector="involvedObject.name=watched,involvedObject.kind=ConfigMap"
    )
    assert [(e.reason, e.message) for e in listed.items] == [("Checked", "looked at it")]
    assert names(core.list_event_for_all_namespaces().items) == ["watched.1"]


def test_watch_streams_added_modified_deleted(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="existing"), data={"v": "0"})
    )
    before = core.list_namespaced_config_map(NS).metadata.resource_version
    w = watch.Watch()
    seen: list[tuple[str, str, dict[str, str] | None]] = []
    changes_done = threading.Event()
    errors: list[BaseException] = []

    def make_changes() -> None:
        try:
            core.create_namespaced_config_map(
                NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="new"), data={"v": "1"})
            )
            core.patch_namespaced_config_map("new", NS, {"data": {"v": "2"}})
            core.delete_namespaced_config_map("new", NS)
        except BaseException as exc:
            errors.append(exc)
        finally:
            changes_done.set()

    worker: threading.Thread | None = None
    for event in w.stream(core.list_namespaced_config_map, NS, timeout_seconds=20):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name, obj.data))
        if obj.metadata.name == "existing" and worker is None:
            # the stream is open: now change things
            worker = threading.Thread(target=make_changes)
            worker.start()
        if event["type"] == "DELETED":
            w.stop()
    assert worker is not None
    worker.join(10)
    assert not errors, errors
    assert seen == [
        ("ADDED", "existing", {"v": "0"}),
        ("ADDED", "new", {"v": "1"}),
        ("MODIFIED", "new", {"v": "2"}),
        ("DELETED", "new", {"v": "2"}),
    ]

    # resuming from a list's resourceVersion replays only what happened after it
    w = watch.Watch()
    resumed = []
    for event in w.stream(
        core.list_namespaced_config_map, NS, resource_version=before, timeout_seconds=20
    ):
        resumed.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            w.stop()
    assert resumed == [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "new")]

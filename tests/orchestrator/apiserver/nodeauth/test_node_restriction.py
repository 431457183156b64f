"""NodeRestriction on a real API server: nodes with their own tokens, over HTTPS.

Each node authenticates as ``system:node:<name>`` in ``system:nodes`` (a
token made as ``paas token create --node NAME`` makes it); ``alice`` is an
ordinary user. Every refusal is checked to have changed nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.apiserver import RunningAPI

from orchestrator import pki
from orchestrator.apiserver.auth import add_token

NODES = "/api/v1/nodes"
PODS = "/api/v1/namespaces/default/pods"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
MERGE = {"Content-Type": "application/merge-patch+json"}


class Cluster:
    def __init__(self, api: RunningAPI) -> None:
        self.api = api
        tokens = api.data_dir / "tokens.json"
        self.admin = api.http()
        self.n1 = api.http(add_token(tokens, user="system:node:n1", groups=["system:nodes"]))
        self.n2 = api.http(add_token(tokens, user="system:node:n2", groups=["system:nodes"]))
        self.alice = api.http(add_token(tokens, user="alice"))

    def close(self) -> None:
        for client in (self.admin, self.n1, self.n2, self.alice):
            client.close()


@pytest.fixture
def cluster(sqlite_api: RunningAPI) -> Iterator[Cluster]:
    c = Cluster(sqlite_api)
    try:
        yield c
    finally:
        c.close()


def node(name: str, address: str = "127.0.0.1", port: int = 10250, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, **meta},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        },
    }


def pod(name: str, node_name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta},
        "spec": {
            "nodeName": node_name,
            "containers": [{"name": "app", "image": "paas/stack:bookworm"}],
        },
    }


def refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert (body["reason"], body["message"]) == ("Forbidden", message)


def test_a_node_registers_and_changes_only_its_own_node(cluster: Cluster) -> None:
    assert cluster.n1.post(NODES, json=node("n1")).status_code == 201
    refused(
        cluster.n1.post(NODES, json=node("n2")),
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"',
    )
    assert cluster.n2.post(NODES, json=node("n2")).status_code == 201
    before = cluster.admin.get(f"{NODES}/n2").json()
    patch = {"metadata": {"labels": {"owned-by": "n1"}}}
    refused(
        cluster.n1.patch(f"{NODES}/n2", json=patch, headers=MERGE),
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"',
    )
    refused(
        cluster.n1.delete(f"{NODES}/n2"),
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"',
    )
    assert cluster.admin.get(f"{NODES}/n2").json() == before
    assert cluster.n1.patch(f"{NODES}/n1", json=patch, headers=MERGE).status_code == 200


def test_a_node_cannot_label_taint_or_own_itself(cluster: Cluster) -> None:
    created = cluster.n1.post(NODES, json=node("n1")).json()
    uid = created["metadata"]["uid"]
    cluster.admin.patch(
        f"{NODES}/n1",
        json={"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}},
        headers=MERGE,
    ).raise_for_status()
    before = cluster.admin.get(f"{NODES}/n1").json()
    label = {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}}
    refused(
        cluster.n1.patch(f"{NODES}/n1", json=label, headers=MERGE),
        'nodes "n1" is forbidden: node "n1" is not allowed to modify labels: '
        "node-role.kubernetes.io/control-plane",
    )
    refused(
        cluster.n1.patch(f"{NODES}/n1", json={"spec": {"taints": None}}, headers=MERGE),
        'nodes "n1" is forbidden: node "n1" is not allowed to modify taints',
    )
    # CVE-2025-5187: a node owning itself would be collected and re-register as it liked.
    owner = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": uid}
    refused(
        cluster.n1.patch(
            f"{NODES}/n1", json={"metadata": {"ownerReferences": [owner]}}, headers=MERGE
        ),
        'nodes "n1" is forbidden: node "n1" is not allowed to modify ownerReferences',
    )
    assert cluster.admin.get(f"{NODES}/n1").json() == before
    refused(
        cluster.n2.post(NODES, json=node("n2", labels={"node-restriction.kubernetes.io/a": "b"})),
        'nodes "n2" is forbidden: node "n2" is not allowed to set the following labels: '
        "node-restriction.kubernetes.io/a",
    )
    zone = {"metadata": {"labels": {"topology.kubernetes.io/zone": "z1"}}}
    assert cluster.n1.patch(f"{NODES}/n1", json=zone, headers=MERGE).status_code == 200


def test_a_node_writes_the_status_only_of_pods_bound_to_it(cluster: Cluster) -> None:
    for name, on in (("mine", "n1"), ("theirs", "n2")):
        cluster.admin.post(PODS, json=pod(name, on)).raise_for_status()
    theirs = cluster.admin.get(f"{PODS}/theirs").json()
    status = {"status": {"phase": "Running", "podIP": "10.0.0.9"}}
    refused(
        cluster.n1.patch(f"{PODS}/theirs/status", json=status, headers=MERGE),
        'pods "theirs" is forbidden: node "n1" can only update pod status for pods with '
        "spec.nodeName set to itself",
    )
    refused(
        cluster.n1.delete(f"{PODS}/theirs"),
        'pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set to '
        "itself",
    )
    assert cluster.admin.get(f"{PODS}/theirs").json() == theirs
    mine = cluster.n1.patch(f"{PODS}/mine/status", json=status, headers=MERGE)
    assert mine.status_code == 200
    assert mine.json()["status"]["podIP"] == "10.0.0.9"


def test_a_node_creates_only_mirror_pods_of_its_own_that_reference_nothing(
    cluster: Cluster,
) -> None:
    refused(
        cluster.n1.post(PODS, json=pod("plain", "n1")),
        'pods "plain" is forbidden: pod does not have "kubernetes.io/config.mirror" '
        'annotation, node "n1" can only create mirror pods',
    )
    mirror = {"annotations": {"kubernetes.io/config.mirror": "h"}}
    refused(
        cluster.n1.post(PODS, json=pod("elsewhere", "n2", **mirror)),
        'pods "elsewhere" is forbidden: node "n1" can only create pods with spec.nodeName set '
        "to itself",
    )
    with_secret = pod("peek", "n1", **mirror)
    with_secret["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "db"}}]
    refused(
        cluster.n1.post(PODS, json=with_secret),
        'pods "peek" is forbidden: node "n1" can not create pods that reference secrets',
    )
    uid = cluster.n1.post(NODES, json=node("n1")).json()["metadata"]["uid"]
    owner = {"apiVersion": "v1", "kind": "Node", "name": "n1", "controller": True}
    stale = pod("stale", "n1", ownerReferences=[{**owner, "uid": "not-the-node"}], **mirror)
    refused(
        cluster.n1.post(PODS, json=stale),
        f'pods "stale" is forbidden: node n1 UID mismatch: expected {uid} got not-the-node',
    )
    assert cluster.admin.get(PODS).json()["items"] == []
    assert cluster.n1.post(PODS, json=pod("static", "n1", **mirror)).status_code == 201
    owned = pod("owned", "n1", ownerReferences=[{**owner, "uid": uid}], **mirror)
    assert cluster.n1.post(PODS, json=owned).status_code == 201


def test_a_node_keeps_only_its_own_lease(cluster: Cluster) -> None:
    def lease(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name},
            "spec": {"holderIdentity": name},
        }

    refused(
        cluster.n1.post(LEASES, json=lease("n2")),
        'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the '
        "same name as the requesting node",
    )
    assert cluster.n1.post(LEASES, json=lease("n1")).status_code == 201


def let_alice_write_nodes(admin: httpx.Client) -> None:
    """RBAC (where served) lets alice write Nodes: what stops her below is NodeRestriction."""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    role = {
        "metadata": {"name": "node-writer"},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["nodes", "nodes/status"],
                "verbs": ["create", "patch", "update"],
            }
        ],
    }
    binding = {
        "metadata": {"name": "node-writer"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "node-writer",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    for path, body in (("clusterroles", role), ("clusterrolebindings", binding)):
        answer = admin.post(f"{rbac}/{path}", json=body)
        assert answer.status_code in (201, 404), answer.text  # 404: no authorization served


def test_only_the_node_itself_or_a_master_says_where_the_node_is(
    cluster: Cluster, tmp_path: Any
) -> None:
    let_alice_write_nodes(cluster.admin)
    cluster.n1.post(NODES, json=node("n1")).raise_for_status()
    before = cluster.admin.get(f"{NODES}/n1").json()

    def message(name: str) -> str:
        return (
            f'nodes "{name}" is forbidden: only node "{name}" itself may set status.addresses, '
            f"status.daemonEndpoints and the {pki.KUBELET_SERVING_CERT_ANNOTATION} annotation"
        )

    elsewhere = {"status": {"addresses": [{"type": "InternalIP", "address": "169.254.169.254"}]}}
    refused(cluster.alice.patch(f"{NODES}/n1/status", json=elsewhere, headers=MERGE), message("n1"))
    port = {"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 22}}}}
    refused(cluster.alice.patch(f"{NODES}/n1/status", json=port, headers=MERGE), message("n1"))
    cert = pki.ensure_self_signed_cert(tmp_path, "impostor", ["127.0.0.1"]).cert.read_text()
    annotation = {"metadata": {"annotations": {pki.KUBELET_SERVING_CERT_ANNOTATION: cert}}}
    refused(cluster.alice.patch(f"{NODES}/n1", json=annotation, headers=MERGE), message("n1"))
    refused(cluster.alice.post(NODES, json=node("n3", address="10.1.2.3")), message("n3"))
    assert cluster.admin.get(f"{NODES}/n1").json() == before
    # Anything else about a Node is RBAC's business; a master may move it.
    label = {"metadata": {"labels": {"team": "a"}}}
    assert cluster.alice.patch(f"{NODES}/n1", json=label, headers=MERGE).status_code == 200
    moved = cluster.admin.patch(f"{NODES}/n1/status", json=elsewhere, headers=MERGE)
    assert moved.status_code == 200

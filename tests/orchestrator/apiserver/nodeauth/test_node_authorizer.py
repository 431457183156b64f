"""The Node authorizer's decisions, table by table, on a graph built from pods (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.podrefs import Reference, pod_references
from orchestrator.apiserver.authz.attributes import Attributes, Decision
from orchestrator.apiserver.identity import UserInfo
from orchestrator.apiserver.nodeauth.authorizer import NodeAuthorizer
from orchestrator.apiserver.nodeauth.graph import NodeGraph
from orchestrator.apiserver.nodeauth.kubelet_labels import forbidden_labels, node_may_set

N1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
ALLOW, NO = Decision.ALLOW, Decision.NO_OPINION


def pod(name: str, node: str = "", ns: str = "default", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [{"name": "app", "image": "i"}], **spec}
    if node:
        body["nodeName"] = node
    return {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"}, "spec": body}


def web(node: str = "n1") -> dict[str, Any]:
    """A pod using a Secret and a ConfigMap every way a pod can."""
    return pod(
        "web",
        node,
        volumes=[
            {"name": "tls", "secret": {"secretName": "tls"}},
            {"name": "conf", "configMap": {"name": "conf"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}},
            {
                "name": "all",
                "projected": {
                    "sources": [{"secret": {"name": "p-s"}}, {"configMap": {"name": "p-c"}}]
                },
            },
        ],
        imagePullSecrets=[{"name": "pull"}],
        serviceAccountName="runner",
        initContainers=[{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
        containers=[
            {
                "name": "app",
                "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "x"}}},
                    {"name": "C", "value": "plain"},
                ],
                "envFrom": [{"configMapRef": {"name": "env-conf"}}],
            }
        ],
    )


def test_a_pod_references_every_secret_configmap_claim_and_account_it_names() -> None:
    refs = {(r.resource, r.name) for r in pod_references(web())}
    assert refs == {
        ("secrets", "tls"),
        ("secrets", "p-s"),
        ("secrets", "pull"),
        ("secrets", "init-env"),
        ("secrets", "db"),
        ("configmaps", "conf"),
        ("configmaps", "p-c"),
        ("configmaps", "flags"),
        ("configmaps", "env-conf"),
        ("persistentvolumeclaims", "data"),
        ("persistentvolumeclaims", "web-scratch"),
        ("serviceaccounts", "runner"),
    }
    assert all(r.namespace == "default" for r in pod_references(web()))


def test_malformed_pods_reference_nothing_rather_than_fail() -> None:
    broken = {"metadata": {"name": "x"}, "spec": {"volumes": "nope", "containers": [1, None]}}
    assert pod_references(broken) == frozenset()
    assert pod_references({"spec": []}) == frozenset()


def ask(
    graph: NodeGraph,
    verb: str,
    resource: str,
    name: str = "",
    *,
    namespace: str = "default",
    group: str = "",
    subresource: str = "",
    user: UserInfo = N1,
) -> tuple[Decision, str]:
    attrs = Attributes(
        user=user,
        verb=verb,
        api_group=group,
        api_version="v1",
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )
    return NodeAuthorizer(graph).authorize(attrs)


@pytest.fixture
def graph() -> NodeGraph:
    g = NodeGraph()
    g.replace(
        [web("n1"), pod("other", "n2", volumes=[{"name": "s", "secret": {"secretName": "x"}}])]
    )
    return g


NO_RELATION = "no relationship found between node 'n1' and this object"


@pytest.mark.parametrize(
    ("verb", "resource", "name", "subresource", "expected"),
    [
        ("get", "secrets", "db", "", (ALLOW, "")),
        ("list", "secrets", "db", "", (ALLOW, "")),  # list/watch by metadata.name
        ("watch", "configmaps", "flags", "", (ALLOW, "")),
        ("get", "secrets", "x", "", (NO, NO_RELATION)),  # n2's pod uses it
        ("get", "secrets", "nobody-uses", "", (NO, NO_RELATION)),
        ("list", "secrets", "", "", (NO, "No Object name found")),
        ("update", "secrets", "db", "", (NO, "can only read resources of this type")),
        ("get", "persistentvolumeclaims", "data", "", (ALLOW, "")),
        ("get", "persistentvolumeclaims", "web-scratch", "", (ALLOW, "")),
        ("update", "persistentvolumeclaims", "data", "status", (ALLOW, "")),
        (
            "list",
            "persistentvolumeclaims",
            "data",
            "",
            (NO, "can only get individual resources of this type"),
        ),
        ("get", "serviceaccounts", "runner", "", (ALLOW, "")),
        ("create", "serviceaccounts", "runner", "token", (ALLOW, "")),
        ("create", "serviceaccounts", "default", "token", (NO, NO_RELATION)),
        ("get", "pods", "other", "", (ALLOW, "")),  # system:node reads pods
        ("update", "pods", "other", "status", (ALLOW, "")),  # NodeRestriction decides whose
        ("update", "pods", "web", "", (NO, "")),
        ("create", "pods", "", "binding", (NO, "")),
        ("create", "events", "", "", (ALLOW, "")),
        ("list", "services", "", "", (ALLOW, "")),
        ("delete", "namespaces", "default", "", (NO, "")),
    ],
)
def test_a_node_reads_what_its_pods_reference_and_has_the_node_role_otherwise(
    graph: NodeGraph,
    verb: str,
    resource: str,
    name: str,
    subresource: str,
    expected: tuple[Decision, str],
) -> None:
    assert ask(graph, verb, resource, name, subresource=subresource) == expected


def test_a_node_reads_only_its_own_node_and_writes_nodes_through_admission(
    graph: NodeGraph,
) -> None:
    assert ask(graph, "get", "nodes", "n1", namespace="") == (ALLOW, "")
    assert ask(graph, "watch", "nodes", "n1", namespace="") == (ALLOW, "")
    assert ask(graph, "list", "nodes", "", namespace="") == (
        NO,
        "node 'n1' cannot read '', only its own Node object",
    )
    assert ask(graph, "get", "nodes", "n2", namespace="")[0] is NO
    assert ask(graph, "patch", "nodes", "n2", namespace="") == (ALLOW, "")
    assert ask(graph, "update", "nodes", "n1", namespace="", subresource="status") == (ALLOW, "")


def test_a_node_uses_only_its_own_lease_in_kube_node_lease(graph: NodeGraph) -> None:
    lease = {"group": "coordination.k8s.io", "namespace": "kube-node-lease"}
    assert ask(graph, "update", "leases", "n1", **lease) == (ALLOW, "")
    assert ask(graph, "create", "leases", "", **lease) == (ALLOW, "")
    assert ask(graph, "update", "leases", "n2", **lease) == (
        NO,
        "can only access node lease with the same name as the requesting node",
    )
    assert ask(graph, "get", "leases", "n1", group="coordination.k8s.io") == (
        NO,
        "can only access leases in the kube-node-lease namespace",
    )
    assert ask(graph, "list", "leases", "", **lease)[0] is NO


def test_others_get_no_opinion_and_a_node_group_without_a_node_name_is_named() -> None:
    graph = NodeGraph()
    alice = UserInfo("alice", groups=("system:authenticated",))
    assert ask(graph, "get", "secrets", "db", user=alice) == (NO, "")
    named_alone = UserInfo("system:node:n1", groups=("system:authenticated",))
    assert ask(graph, "get", "nodes", "n1", namespace="", user=named_alone) == (NO, "")
    nameless = UserInfo("system:node:", groups=("system:nodes",))
    assert ask(graph, "get", "nodes", "n1", namespace="", user=nameless) == (
        NO,
        'unknown node for user "system:node:"',
    )


def test_the_graph_follows_binding_changes_and_deletion() -> None:
    graph = NodeGraph()
    unbound = web(node="")
    graph.set_pod(unbound)
    assert not graph.reaches("n1", Reference("secrets", "default", "db"))
    graph.set_pod(web("n1"))
    assert graph.reaches("n1", Reference("secrets", "default", "db"))
    second = pod("second", "n1", volumes=[{"name": "s", "secret": {"secretName": "db"}}])
    graph.set_pod(second)
    graph.delete_pod("default", "web")
    assert graph.reaches("n1", Reference("secrets", "default", "db"))  # still used by "second"
    assert not graph.reaches("n1", Reference("configmaps", "default", "flags"))
    graph.delete_pod("default", "second")
    assert not graph.reaches("n1", Reference("secrets", "default", "db"))
    assert len(graph) == 0


def test_a_mirror_pod_binds_to_its_node_but_opens_no_secret() -> None:
    graph = NodeGraph()
    mirror = web("n1")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    graph.set_pod(mirror)
    assert graph.node_of("default", "web") == "n1"
    assert not graph.reaches("n1", Reference("secrets", "default", "db"))


def test_an_unready_graph_says_so_instead_of_denying_a_relationship() -> None:
    attrs = Attributes(user=N1, verb="get", resource="secrets", namespace="default", name="db")
    answer = NodeAuthorizer(NodeGraph(), ready=lambda: False).authorize(attrs)
    assert answer == (NO, "node authorizer not yet initialized")


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("kubernetes.io/hostname", True),
        ("topology.kubernetes.io/zone", True),
        ("node.kubernetes.io/exclude-from-external-load-balancers", True),
        ("foo.kubelet.kubernetes.io/x", True),
        ("team", True),
        ("example.com/pool", True),
        ("node-role.kubernetes.io/control-plane", False),
        ("node-restriction.kubernetes.io/trusted", False),
        ("x.node-restriction.kubernetes.io/trusted", False),
        ("k8s.io/anything", False),
    ],
)
def test_a_node_sets_only_kubelet_labels_under_kubernetes_domains(key: str, allowed: bool) -> None:
    assert node_may_set(key) is allowed


def test_unchanged_restricted_labels_are_not_the_nodes_doing() -> None:
    admin_set = {"node-role.kubernetes.io/worker": "", "team": "a"}
    assert forbidden_labels({**admin_set, "team": "b"}, admin_set) == ""
    assert forbidden_labels({"team": "a"}, admin_set) == "node-role.kubernetes.io/worker"

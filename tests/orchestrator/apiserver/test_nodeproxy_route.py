"""``/api/v1/nodes/{name}/proxy/...``: a request passed on to a real node agent.

The node agent is the real HTTPS server (``support.lognode``) with its Node
registered, so the API server reaches it the way it does for logs: at the
address and with the certificate the Node publishes.
"""

from __future__ import annotations

from typing import Any

import httpx
from support.apiserver import RunningAPI
from support.lognode import LogNode, python_lines
from support.wait import eventually_async, wait_until

PROXY = "/api/v1/nodes/{}/proxy"
BINDINGS = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"


async def test_the_node_answers_through_the_api_server(
    http: httpx.AsyncClient, log_node: LogNode
) -> None:
    r = await http.get(PROXY.format(log_node.name) + "/healthz")
    assert (r.status_code, r.text) == (200, "ok")
    assert r.headers["content-type"].startswith("text/plain")

    pod = log_node.run_pod("web", {"app": python_lines("print('one'); print('two')")})
    wait_until(lambda: log_node.exited(pod, "app"))
    # the path and query reach the node as sent: its own log route, its own parameters
    r = await http.get(
        PROXY.format(log_node.name) + "/containerLogs/default/web/app", params={"tailLines": "1"}
    )
    assert (r.status_code, r.text) == (200, "two\n")


async def test_the_nodes_own_refusals_come_back_as_it_gave_them(
    http: httpx.AsyncClient, log_node: LogNode
) -> None:
    r = await http.get(PROXY.format(log_node.name) + "/containerLogs/default/nope/app")
    assert r.status_code == 404
    assert "nope" in r.text and r.headers["content-type"].startswith("text/plain"), r.text
    r = await http.get(PROXY.format(log_node.name) + "/no/such/route")
    assert r.status_code == 404


async def test_what_cannot_be_proxied_is_refused_with_a_status(
    http: httpx.AsyncClient, log_node: LogNode
) -> None:
    r = await http.get(PROXY.format("ghost") + "/healthz")
    assert r.status_code == 404
    assert r.json()["message"] == 'nodes "ghost" not found'
    # Kubernetes takes a scheme and port in the name; here the node's own port is the only one
    r = await http.get(PROXY.format(f"https:{log_node.name}:22") + "/")
    assert r.status_code == 400
    assert "scheme or port in the node name" in r.json()["message"]


async def test_only_roles_that_grant_nodes_proxy_may_use_it(
    http: httpx.AsyncClient, sqlite_api: RunningAPI, log_node: LogNode
) -> None:
    binding: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "alice-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    created = await http.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json=binding
    )
    assert created.status_code == 201, created.text
    as_alice = {"Impersonate-User": "alice"}
    url = PROXY.format(log_node.name) + "/healthz"
    r = await http.get(url, headers=as_alice)
    assert r.status_code == 403
    assert r.json()["message"] == (
        f'nodes "{log_node.name}" is forbidden: User "alice" cannot get resource "nodes/proxy" '
        'in API group "" at the cluster scope'
    )
    binding["metadata"]["name"] = "alice-kubelet-api"
    binding["roleRef"]["name"] = "system:kubelet-api-admin"
    created = await http.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json=binding
    )
    assert created.status_code == 201, created.text

    async def answered() -> httpx.Response | None:  # once the authorizer has the binding
        r = await http.get(url, headers=as_alice)
        return r if r.status_code != 403 else None

    r = await eventually_async(answered, 10, "alice's new binding to take effect")
    assert (r.status_code, r.text) == (200, "ok")


async def test_discovery_lists_nodes_proxy_as_kubernetes_does(http: httpx.AsyncClient) -> None:
    resources = {r["name"]: r for r in (await http.get("/api/v1")).json()["resources"]}
    assert resources["nodes/proxy"]["kind"] == "NodeProxyOptions"
    assert resources["nodes/proxy"]["verbs"] == ["create", "delete", "get", "patch", "update"]

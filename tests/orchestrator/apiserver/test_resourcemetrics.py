"""metrics.k8s.io/v1beta1 against a real API server and a real node agent's stats.

The node is ``support.lognode``'s: the process runtime (no isolation, so it
measures from /proc) and the node agent's HTTPS server, with a stats
sampler attached and made to take its readings on demand. The API server
scrapes it through its node proxy, as it would any node.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support.apiserver import RunningAPI
from support.kubectlbin import versioned_kubectl
from support.lognode import LogNode, python_lines, start_log_node
from support.wait import wait_until

from orchestrator.apiserver.auth import add_token
from orchestrator.kubelet.statssampler import StatsSampler, StatsSettings

METRICS = "/apis/metrics.k8s.io/v1beta1"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture
def node(sqlite_api: RunningAPI, tmp_path: Path) -> Iterator[LogNode]:
    running = start_log_node(sqlite_api, tmp_path / "node")
    sampler = StatsSampler(running.runtime, running.name, StatsSettings(interval=3600))
    running.server.stats = sampler
    try:
        running.run_pod("web", {"app": python_lines("while True: pass")}, {"app": "web"})
        running.run_pod(
            "idle", {"app": ["sleep", "600"], "side": ["sleep", "600"]}, {"app": "idle"}
        )
        running.call(sampler.sample_once)
        running.call(sampler.sample_once)  # a rate needs two readings
        yield running
    finally:
        running.stop()


def status(r: httpx.Response, code: int) -> dict:
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status"
    return body


def test_discovery_lists_the_metrics_group_with_get_and_list(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        groups = http.get("/apis").json()["groups"]
        assert {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"} in [
            v for g in groups for v in g["versions"]
        ]
        resources = http.get(METRICS).json()["resources"]
    by_name = {r["name"]: r for r in resources}
    assert by_name["nodes"]["kind"] == "NodeMetrics" and not by_name["nodes"]["namespaced"]
    assert by_name["pods"]["kind"] == "PodMetrics" and by_name["pods"]["namespaced"]
    assert by_name["pods"]["verbs"] == ["get", "list"]


def test_node_and_pod_metrics_have_metrics_servers_shape(
    sqlite_api: RunningAPI, node: LogNode
) -> None:
    with sqlite_api.http() as http:
        nodes = http.get(f"{METRICS}/nodes").json()
        web = http.get(f"{METRICS}/namespaces/default/pods/web").json()
    assert nodes["kind"] == "NodeMetricsList" and nodes["apiVersion"] == "metrics.k8s.io/v1beta1"
    (n1,) = nodes["items"]
    assert n1["kind"] == "NodeMetrics" and n1["metadata"]["name"] == "n1"
    assert set(n1["metadata"]) == {"name", "creationTimestamp", "labels"}
    assert n1["timestamp"].endswith("Z") and n1["window"].endswith("s")
    assert set(n1["usage"]) == {"cpu", "memory"}
    assert web["kind"] == "PodMetrics"
    assert web["metadata"]["namespace"] == "default" and web["metadata"]["labels"] == {"app": "web"}
    (app,) = web["containers"]
    assert app["name"] == "app"
    assert re.fullmatch(r"\d+[num]?", app["usage"]["cpu"]), app
    assert re.fullmatch(r"\d+(Ki|Mi|Gi)?", app["usage"]["memory"]), app


def test_pod_lists_take_label_and_field_selectors_and_all_namespaces(
    sqlite_api: RunningAPI, node: LogNode
) -> None:
    with sqlite_api.http() as http:
        labelled = http.get(
            f"{METRICS}/namespaces/default/pods", params={"labelSelector": "app=idle"}
        )
        named = http.get(f"{METRICS}/pods", params={"fieldSelector": "metadata.name=web"})
        everything = http.get(f"{METRICS}/pods").json()
        bad = http.get(f"{METRICS}/pods", params={"fieldSelector": "spec.nodeName=n1"})
    assert [p["metadata"]["name"] for p in labelled.json()["items"]] == ["idle"]
    assert [c["name"] for c in labelled.json()["items"][0]["containers"]] == ["app", "side"]
    assert [p["metadata"]["name"] for p in named.json()["items"]] == ["web"]
    assert everything["kind"] == "PodMetricsList"
    assert [p["metadata"]["name"] for p in everything["items"]] == ["idle", "web"]
    assert "spec.nodeName" in status(bad, 400)["message"]


def test_unknown_pod_or_node_is_not_found_in_metrics_servers_words(
    sqlite_api: RunningAPI, node: LogNode
) -> None:
    with sqlite_api.http() as http:
        pod = status(http.get(f"{METRICS}/namespaces/default/pods/x"), 404)
        other = status(http.get(f"{METRICS}/nodes/x"), 404)
        writing = http.post(f"{METRICS}/namespaces/default/pods", json={})
    assert pod["message"] == 'podmetrics.metrics.k8s.io "x" not found'
    assert pod["details"] == {"name": "x", "group": "metrics.k8s.io", "kind": "podmetrics"}
    assert other["message"] == 'nodemetrics.metrics.k8s.io "x" not found'
    assert writing.status_code == 405


def test_a_node_that_serves_no_stats_is_left_out(sqlite_api: RunningAPI, node: LogNode) -> None:
    with sqlite_api.http() as http:
        r = http.post("/api/v1/nodes", json={"metadata": {"name": "silent"}})
        assert r.status_code == 201, r.text
        names = [n["metadata"]["name"] for n in http.get(f"{METRICS}/nodes").json()["items"]]
        status(http.get(f"{METRICS}/nodes/silent"), 404)
    assert names == ["n1"]


def test_top_needs_rights_and_an_edit_binding_in_the_namespace_gives_them(
    sqlite_api: RunningAPI, node: LogNode
) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="dev", groups=["staff"])
    with sqlite_api.http(token) as dev:
        refused = status(dev.get(f"{METRICS}/namespaces/default/pods"), 403)
        assert refused["message"] == (
            'pods.metrics.k8s.io is forbidden: User "dev" cannot list resource "pods" in API '
            'group "metrics.k8s.io" in the namespace "default"'
        )
        with sqlite_api.http() as admin:
            binding = {
                "metadata": {"name": "dev-edit"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "edit",
                },
                "subjects": [
                    {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "dev"}
                ],
            }
            r = admin.post(f"{RBAC}/namespaces/default/rolebindings", json=binding)
            assert r.status_code == 201, r.text
        # the binding reaches the authorizer through its watch: wait for it
        allowed = wait_until(
            lambda: (r := dev.get(f"{METRICS}/namespaces/default/pods")).status_code == 200 and r,
            10,
            "the edit binding to take effect",
        )
        assert allowed.json()["kind"] == "PodMetricsList"
        status(dev.get(f"{METRICS}/nodes"), 403)  # nodes are cluster-wide: not in a namespace


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_top_shows_nodes_and_pods(
    sqlite_api: RunningAPI, node: LogNode, version: str
) -> None:
    def kubectl(*args: str) -> str:
        result = subprocess.run(
            [versioned_kubectl(version), "--kubeconfig", str(sqlite_api.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    nodes = kubectl("top", "nodes")
    assert nodes.split("\n")[0].split()[:3] == ["NAME", "CPU(cores)", "CPU%"] or "NAME" in nodes
    assert "n1" in nodes
    pods = kubectl("top", "pods", "-l", "app=idle", "--containers")
    rows = [line.split() for line in pods.strip().splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [("idle", "app"), ("idle", "side")]
    everywhere = kubectl("top", "pods", "-A")
    assert "web" in everywhere and "idle" in everywhere
    print(version, json.dumps({"nodes": nodes, "pods": everywhere}))


def test_kubectl_get_podmetrics_prints_metrics_servers_columns(
    sqlite_api: RunningAPI, node: LogNode
) -> None:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(sqlite_api.kubeconfig), "get", "podmetrics", "idle"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert row.split()[0] == "idle" and row.split()[3].endswith("s")


def test_a_storm_of_top_requests_asks_the_node_once(sqlite_api: RunningAPI, node: LogNode) -> None:
    state = sqlite_api.server.state
    assert state is not None
    before = state.resource_metrics.scrapes

    def one(_: int) -> int:
        with sqlite_api.http() as http:
            return http.get(f"{METRICS}/namespaces/default/pods").status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(one, range(20)))
    assert codes == [200] * 20
    assert state.resource_metrics.scrapes - before <= 2  # one, or two if the cache turned over

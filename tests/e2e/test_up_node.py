"""``paas up`` with a real node agent, driven by kubectl as a user would.

The platform runs as real processes (``python -m paas up``, root mode);
kubectl applies a 3-replica Deployment of ``python3 -m http.server
$(PORT)`` behind a NodePort Service, reads its pods (``-o wide``: IPs on
this node), their logs, deletes one (the ReplicaSet replaces it), asks the
cluster DNS for its Service with dig, reaches it through its cluster IP and
its node port with HTTP from the host, and from a pod by its short name
(``curl http://web/``, resolved by the cluster DNS the pod's resolv.conf
names). Then a rolling update runs while a load generator keeps requesting
the cluster IP: not one request may fail. ``paas up`` stopping takes the
pods with it.
Pod addresses come from a free /24 of 10.203.0.0/16 given as the cluster
range, so parallel tests never share one.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engines import require_engine
from support.kubelet import RUNTIMES, free_pod_cidr
from support.paasup import (
    Up,
    apply,
    dig,
    http_status,
    ready_pods,
    run_client,
    start_up,
    update_under_load,
    web_manifest,
)
from support.wait import wait_until

COMMAND = ["python3", "-m", "http.server", "$(PORT)"]


@pytest.fixture(params=RUNTIMES)
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    if request.param == "docker":
        request.getfixturevalue("stack_image")
    with start_up(tmp_path / "paas", request.param) as running:
        yield running


def test_a_deployment_runs_serves_logs_and_heals_under_paas_up(up: Up) -> None:
    # "paas is up" means the node takes pods, with no component restarted on the way
    assert " Ready " in up.kubectl("get", "nodes").stdout, up.log()
    assert "restarting in" not in up.log(), up.log()
    apply(up, web_manifest(3, COMMAND))
    pods = wait_until(lambda: ready_pods(up, 3), 90, "three ready pods")
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 3
    for ip in ips:
        assert http_status(f"http://{ip}:8080/") == 200
    wide = up.kubectl("get", "pods", "-o", "wide").stdout
    assert all(ip in wide for ip in ips)
    node = pods[0]["spec"]["nodeName"]
    assert node in wide
    victim = pods[0]["metadata"]["name"]
    wait_until(lambda: "GET / HTTP/1.1" in up.kubectl("logs", victim).stdout, 30)
    up.kubectl("delete", "pod", victim)
    replaced = wait_until(lambda: ready_pods(up, 3), 60, "a replacement pod")
    assert victim not in {p["metadata"]["name"] for p in replaced}
    cluster_ip = up.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert dig(up, "web.default.svc.cluster.local") == [cluster_ip]
    assert dig(up, "_http._tcp.web.default.svc.cluster.local", "SRV") == [
        "0 100 80 web.default.svc.cluster.local."
    ]
    assert wait_until(lambda: http_status(f"http://{cluster_ip}/") == 200, 10)
    node_port = up.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}").stdout
    assert http_status(f"http://127.0.0.1:{node_port}/") == 200

    said = run_client(up, "cat /etc/resolv.conf && curl -sS -m 10 http://web/")
    assert "nameserver 10.96.0.10" in said and "search default.svc.cluster.local" in said
    assert "Directory listing" in said, said
    # The API as every pod knows it: default/kubernetes. Pods get no CA yet (no service
    # accounts), hence -k there; from the host the certificate is checked for that name.
    said = run_client(
        up,
        "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT && "
        "curl -sS -m 10 -k https://kubernetes.default.svc/version",
    )
    assert said.startswith("10.96.0.1:443\n") and '"gitVersion"' in said, said
    assert "10.96.0.1" in up.kubectl("get", "svc", "kubernetes").stdout
    checked = subprocess.run(
        [
            *("curl", "-sS", "-m", "10", "--cacert", str(up.data_dir / "ca.crt")),
            *("--resolve", "kubernetes.default.svc:443:10.96.0.1"),
            "https://kubernetes.default.svc/version",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert '"gitVersion"' in checked.stdout, checked.stderr
    update_under_load(up, f"http://{cluster_ip}/", 3)
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(60) == 0
    assert "paas stopped." in up.log()
    assert up.leftovers() == [], "pods outlived paas up"


def test_up_again_on_the_same_data_dir_waits_for_its_new_node(tmp_path: Path) -> None:
    """The Node of the last run still says Ready: "up" must mean this run's agent is there,
    its service proxy included (before it, an address in 10.96/16 left the machine)."""
    require_engine("root", os.geteuid() == 0, "root mode needs root")
    data_dir, cidr = tmp_path / "paas", free_pod_cidr()
    boot_id = "jsonpath={.status.nodeInfo.bootID}"
    with start_up(data_dir, "process", cluster_cidr=cidr) as first:
        node = first.node
        before = first.kubectl("get", "node", node, "-o", boot_id).stdout
    with start_up(data_dir, "process", node=node, cluster_cidr=cidr) as again:
        assert again.kubectl("get", "node", node, "-o", boot_id).stdout not in ("", before)
        route = subprocess.run(
            ["ip", "-o", "route", "get", "10.96.0.1"], capture_output=True, text=True, check=True
        ).stdout
        assert " dev lo " in route or " dev paas" in route, f"10.96.0.1 leaves the machine: {route}"

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

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.kubelet import RUNTIMES
from support.paasup import Load, Up, dig, http_status, ready_pods, start_up
from support.wait import wait_until

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: paas/stack:bookworm
        command: ["python3", "-m", "http.server", "$(PORT)"]
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
        lifecycle:
          # Serve on while the endpoint removal reaches every proxy (Kubernetes' advice).
          preStop:
            exec: {command: ["sleep", "1"]}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
"""
CLIENT = """
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  restartPolicy: Never
  containers:
  - name: client
    image: paas/stack:bookworm
    command: ["sh", "-c", "cat /etc/resolv.conf && curl -sS -m 10 http://web/"]
"""


@pytest.fixture(params=RUNTIMES)
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    if request.param == "docker":
        request.getfixturevalue("stack_image")
    with start_up(tmp_path / "paas", request.param) as running:
        yield running


def test_a_deployment_runs_serves_logs_and_heals_under_paas_up(up: Up, tmp_path: Path) -> None:
    wait_until(lambda: " Ready " in up.kubectl("get", "nodes").stdout, 60, up.log())
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT)
    up.kubectl("apply", "-f", str(manifest))
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

    client = tmp_path / "client.yaml"
    client.write_text(CLIENT)
    up.kubectl("apply", "-f", str(client))
    phase = "jsonpath={.status.phase}"
    done = wait_until(
        lambda: up.kubectl("get", "pod", "client", "-o", phase).stdout in ("Succeeded", "Failed"),
        60,
        "the client pod to finish",
    )
    assert done
    said = up.kubectl("logs", "client").stdout
    assert "nameserver 10.96.0.10" in said and "search default.svc.cluster.local" in said
    assert "Directory listing" in said, said
    assert up.kubectl("get", "pod", "client", "-o", phase).stdout == "Succeeded"

    with Load(f"http://{cluster_ip}/") as load:
        wait_until(lambda: load.ok >= 20, 30, "load through the cluster IP")
        up.kubectl("set", "env", "deploy/web", "VERSION=2")
        rolled = up.kubectl(
            "rollout", "status", "deploy/web", "--timeout=120s", check=False, timeout=130
        )
        assert rolled.returncode == 0, rolled.stderr
        served = load.ok
        wait_until(lambda: load.ok >= served + 20, 30, "load after the rollout")
    assert load.failures == [], f"{len(load.failures)} of {load.ok} requests failed"
    pods = wait_until(lambda: ready_pods(up, 3), 30, "three ready pods of the new version")
    assert all(
        {"name": "VERSION", "value": "2"} in p["spec"]["containers"][0].get("env", []) for p in pods
    )
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(60) == 0
    assert "paas stopped." in up.log()
    assert up.leftovers() == [], "pods outlived paas up"

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

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engines import require_engine
from support.kubelet import RUNTIMES, free_pod_cidr
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
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


class Up:
    def __init__(
        self, data_dir: Path, process: subprocess.Popen[bytes], runtime: str, node: str
    ) -> None:
        self.data_dir = data_dir
        self.process = process
        self.runtime = runtime
        self.node = node

    def leftovers(self) -> list[str]:
        """What still runs of this node's pods: supervisors (process) or containers (docker)."""
        if self.runtime == "docker":
            import docker

            from orchestrator.kubelet.runtimes.dockerspec import LABEL_NODE

            client = docker.DockerClient()
            try:
                found = client.containers.list(filters={"label": f"{LABEL_NODE}={self.node}"})
                return [c.name for c in found]
            finally:
                client.close()
        found = subprocess.run(
            ["pgrep", "-f", f"orchestrator.kubelet.supervise run {self.data_dir}"],
            capture_output=True,
            text=True,
        )
        return found.stdout.split()

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.data_dir / "kubeconfig"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.data_dir)},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def pods(self) -> list[dict]:
        return json.loads(self.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)[
            "items"
        ]

    def log(self) -> str:
        return (self.data_dir / "up.log").read_text()


@pytest.fixture(params=RUNTIMES)
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl not on PATH")
    if request.param == "docker":
        request.getfixturevalue("stack_image")
    data_dir = tmp_path / "paas"
    data_dir.mkdir()
    node = f"up-{uuid.uuid4().hex[:8]}"  # runtimes name bridges and networks after the node
    with open(data_dir / "up.log", "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paas",
                "up",
                "--data-dir",
                str(data_dir),
                "--api-port",
                "0",
                "--http-port",
                "0",
                "--dns-port",
                "0",
                "--runtime",
                request.param,
                "--cluster-cidr",
                free_pod_cidr(),
                "--node-name",
                node,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
    running = Up(data_dir, process, request.param, node)
    try:
        wait_until(lambda: "Press Ctrl-C" in running.log() or process.poll() is not None, 60)
        assert process.poll() is None, running.log()
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if request.param == "docker":
            from orchestrator.kubelet.runtimes.docker import purge_node

            purge_node(node)


def dig(up: Up, name: str, rtype: str = "A") -> list[str]:
    """Ask the DNS that ``paas up`` names in endpoints.json, with the real dig."""
    require_engine("dig", shutil.which("dig") is not None, "dig (dnsutils) not on PATH")
    url = json.loads((up.data_dir / "endpoints.json").read_text())["dns"]
    host, _, port = url.removeprefix("udp://").rpartition(":")
    out = subprocess.run(
        ["dig", f"@{host}", "-p", port, "+short", "+time=2", "+tries=2", name, rtype],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout.split("\n")[:-1]


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class Load:
    """Threads requesting ``url`` back to back, each on a new connection, until stopped."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                    failed = "" if r.status == 200 else f"HTTP {r.status}"
            except (OSError, urllib.error.HTTPError) as exc:
                failed = f"{time.strftime('%X')} {type(exc).__name__}: {exc}"
            with self._lock:
                if failed:
                    self.failures.append(failed)
                else:
                    self.ok += 1

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)


def ready_pods(up: Up) -> list[dict]:
    pods = [p for p in up.pods() if not p["metadata"].get("deletionTimestamp")]
    ready = [
        p
        for p in pods
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions", [])
        )
    ]
    return ready if len(ready) == 3 and len(pods) == 3 else []


def test_a_deployment_runs_serves_logs_and_heals_under_paas_up(up: Up, tmp_path: Path) -> None:
    wait_until(lambda: " Ready " in up.kubectl("get", "nodes").stdout, 60, up.log())
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT)
    up.kubectl("apply", "-f", str(manifest))
    pods = wait_until(lambda: ready_pods(up), 90, "three ready pods")
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
    replaced = wait_until(lambda: ready_pods(up), 60, "a replacement pod")
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
    pods = wait_until(lambda: ready_pods(up), 30, "three ready pods of the new version")
    assert all(
        {"name": "VERSION", "value": "2"} in p["spec"]["containers"][0].get("env", []) for p in pods
    )
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(60) == 0
    assert "paas stopped." in up.log()
    assert up.leftovers() == [], "pods outlived paas up"

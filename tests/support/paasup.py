"""``paas up`` as a user runs it, for end-to-end tests: a real process, driven by kubectl.

``start_up(data_dir, runtime, *flags)`` starts ``python -m paas up`` on free
ports and yields an ``Up`` once it prints "Press Ctrl-C"; leaving the
context stops it with Ctrl-C (SIGINT) and removes what a Docker node left,
and the engine's references to images of its registry.
``Load`` keeps HTTP requests going against one URL and counts failures;
``web_manifest`` is the Deployment + NodePort Service every mode's test
applies, ``run_client`` runs a one-shot pod and returns what it printed, and
``update_under_load`` rolls the Deployment while requests keep coming.
"""

from __future__ import annotations

import json
import os
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
from contextlib import contextmanager
from pathlib import Path

from orchestrator.api.conditions import condition_status
from support.engines import require_engine
from support.kubelet import free_pod_cidr
from support.registry import forget_images
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


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

    def post_mortem(self, lines: int = 120) -> list[tuple[str, str]]:
        """Sections for a failed test's report: every pod, and the end of ``paas up``'s log."""
        try:
            listing = self.kubectl("get", "pods", "-A", "-o", "wide", check=False, timeout=10)
            pods = listing.stdout + listing.stderr
        except subprocess.TimeoutExpired:
            pods = "kubectl get pods: no answer in 10 s"
        tail = "\n".join(self.log().splitlines()[-lines:])
        return [("paas up: pods", pods), (f"paas up: the last {lines} lines of its log", tail)]


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


def ready_pods(up: Up, count: int) -> list[dict]:
    """The app=web pods, when exactly ``count`` exist and all are Ready."""
    pods = [p for p in up.pods() if not p["metadata"].get("deletionTimestamp")]
    ready = [p for p in pods if condition_status(p, "Ready") == "True"]
    return ready if len(ready) == count and len(pods) == count else []


def web_manifest(replicas: int, command: list[str]) -> str:
    """A Deployment ``web`` of the stack image serving on 8080 behind a NodePort Service.

    Readiness gates new pods; a two-second preStop keeps an old pod serving
    while its endpoint removal reaches the proxy (Kubernetes' advice).
    """
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  strategy:
    rollingUpdate: {{maxUnavailable: 0, maxSurge: 1}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: paas/stack:bookworm
        command: {json.dumps(command)}
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {{path: /, port: 8080}}
          periodSeconds: 1
        lifecycle:
          preStop:
            exec: {{command: ["sleep", "2"]}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
"""


def apply(up: Up, text: str) -> None:
    path = up.data_dir / f"manifest-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(text)
    up.kubectl("apply", "-f", str(path))


def run_client(up: Up, script: str) -> str:
    """Run ``sh -c SCRIPT`` in a pod of the stack image; its output once it succeeded."""
    name = f"client-{uuid.uuid4().hex[:6]}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "client", "image": "paas/stack:bookworm", "command": ["sh", "-c", script]}
            ],
        },
    }
    apply(up, json.dumps(pod))
    phase = "jsonpath={.status.phase}"
    ended = wait_until(
        lambda: up.kubectl("get", "pod", name, "-o", phase).stdout in ("Succeeded", "Failed"),
        60,
        f"pod {name} to finish",
    )
    assert ended
    said = up.kubectl("logs", name).stdout
    assert up.kubectl("get", "pod", name, "-o", phase).stdout == "Succeeded", said
    return said


def update_under_load(up: Up, url: str, replicas: int) -> Load:
    """Roll ``deploy/web`` to new pods while ``Load`` runs against ``url``; not one may fail."""
    with Load(url) as load:
        wait_until(lambda: load.ok >= 20, 30, f"load through {url}")
        up.kubectl("set", "env", "deploy/web", "VERSION=2")
        rolled = up.kubectl(
            "rollout", "status", "deploy/web", "--timeout=120s", check=False, timeout=130
        )
        assert rolled.returncode == 0, rolled.stderr
        served = load.ok
        wait_until(lambda: load.ok >= served + 20, 30, "load after the rollout")
    assert load.failures == [], (
        f"{len(load.failures)} of {load.ok} requests failed: {load.failures[:5]}"
    )
    pods = wait_until(lambda: ready_pods(up, replicas), 30, "ready pods of the new version")
    assert all(
        {"name": "VERSION", "value": "2"} in p["spec"]["containers"][0].get("env", []) for p in pods
    )
    return load


def up_argv(data_dir: Path, *flags: str) -> list[str]:
    """``python -m paas up`` with its state in ``data_dir``, every port picked free."""
    return [
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
        "--registry-port",
        "0",
        *flags,
    ]


@contextmanager
def start_up(
    data_dir: Path,
    runtime: str,
    *flags: str,
    node: str = "",
    cluster_cidr: str = "",
    path: str = "",
) -> Iterator[Up]:
    """``paas up --runtime RUNTIME FLAGS`` on free ports, stopped (and checked) on the way out.

    A data dir used before is started again as it is (give the same ``node``
    and ``cluster_cidr`` to come back as the same node). ``path`` replaces
    ``$PATH`` for it (a machine without some tool).
    """
    require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl not on PATH")
    data_dir.mkdir(parents=True, exist_ok=True)
    node = node or f"up-{uuid.uuid4().hex[:8]}"  # runtimes name bridges and networks after it
    with open(data_dir / "up.log", "wb") as out:
        process = subprocess.Popen(
            up_argv(
                data_dir,
                "--runtime",
                runtime,
                "--cluster-cidr",
                cluster_cidr or free_pod_cidr(),
                "--node-name",
                node,
                *flags,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "PATH": path} if path else None,
        )
    running = Up(data_dir, process, runtime, node)
    try:
        wait_until(lambda: "Press Ctrl-C" in running.log() or process.poll() is not None, 60)
        assert process.poll() is None, running.log()
        yield running
    finally:
        registry = pushed_to(data_dir)  # endpoints.json goes when paas up stops
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if runtime == "docker":
            from orchestrator.kubelet.runtimes.docker import purge_node

            purge_node(node)
        if registry:
            forget_images(registry)  # the engine keeps what was pushed and pulled: not ours to keep


def pushed_to(data_dir: Path) -> str:
    """HOST:PORT of the registry this ``paas up`` runs ("" for none)."""
    try:
        endpoints = json.loads((data_dir / "endpoints.json").read_text())
    except (OSError, ValueError):
        return ""
    return str(endpoints.get("registry", "")).removeprefix("http://")

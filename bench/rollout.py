"""Rolling updates under load, many in a row: does any request through a cluster IP fail?

    python -m bench.rollout --runtime docker --rounds 30 --cpu-hogs 2

Starts ``paas up`` (root mode) on free ports, applies a 3-replica Deployment
of ``python3 -m http.server`` behind a Service (readiness probe, a two-second
preStop, maxUnavailable 0: the manifest of the end-to-end test), and then,
round after round, rolls it to new pods while threads keep requesting the
cluster IP, each request on a new TCP connection. ``--cpu-hogs N`` runs N
processes that spin for the whole run, so the control plane competes for the
two cores as it does on a loaded CI machine.

A failed request is evidence, so it is recorded at once, while the state that
caused it still exists: the client's own source port, the conntrack entry of
that exact flow (``conntrack -L --sport``: where the DNAT sent it and in what
state), the kernel's PAAS- rules, the Service's Endpoints and the pods with
their addresses and deletion times. Each lands in ``DIR/failures/``. A
temporary DIR (no ``--data-dir``) is removed when nothing failed and nothing
was traced, so that ``make bench`` leaves nothing behind.

The figure is the count of failed requests over all rounds (the target: 0),
beside the requests made; it is a soak, not a timing, so it has no anchor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import Figure, save_if_asked

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: paas/stack:bookworm
        command: ["python3", "-m", "http.server", "8080"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
        lifecycle: {preStop: {exec: {command: ["sleep", "2"]}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


# What each pod's interface really is now: its address and MAC, per runtime.
DOCKER_ENDPOINTS = (
    "for n in $(docker network ls -q --filter name=paas); do docker network inspect "
    "--format '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}}{{println}}{{end}}' "
    "$n; done 2>/dev/null"
)
NETNS_LINKS = (
    "for n in $(ip netns list | cut -d' ' -f1); do echo $n $(ip -n $n -o -4 addr show eth0 "
    "| awk '{print $4}') $(ip -n $n -o link show eth0 | grep -o 'link/ether [0-9a-f:]*'); "
    "done 2>/dev/null"
)


def spin() -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        pass


@contextlib.contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(count)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join(5)


@contextlib.contextmanager
def traced(data_dir: Path, platform: Platform) -> Iterator[None]:
    """``--trace``: conntrack's NEW/DESTROY events of every flow to the service range, a
    counter of packets to it that conntrack found INVALID (they skip NAT), and every change
    to the pods and Endpoints, each line stamped, for reading a failure's moment back."""
    invalid = ["OUTPUT", "-d", "10.96.0.0/16", "-m", "conntrack", "--ctstate", "INVALID"]
    subprocess.run(["iptables", "-w", "-t", "mangle", "-I", *invalid], check=True)
    logs = [(data_dir / name).open("w") for name in ("conntrack.events", "watch.events")]
    procs = [
        subprocess.Popen(
            ["conntrack", "-E", "-e", "NEW,DESTROY", "-o", "timestamp", "-d", "10.96.0.0/16"],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        ),
        *(
            subprocess.Popen(
                [
                    "sh",
                    "-c",
                    f"kubectl --kubeconfig {data_dir / 'kubeconfig'} get {kind} -w "
                    "--output-watch-events -o wide | while IFS= read -r l; do "
                    'echo "$(date +%T.%N | cut -c1-12) $l"; done',
                ],
                stdout=logs[1],
                stderr=subprocess.STDOUT,
            )
            for kind in ("pods", "endpoints")
        ),
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        for log in logs:
            log.close()
        counted = subprocess.run(
            ["iptables", "-w", "-t", "mangle", "-L", "OUTPUT", "-v", "-x", "-n"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        (data_dir / "invalid.counter").write_text(counted)
        subprocess.run(["iptables", "-w", "-t", "mangle", "-D", *invalid], check=False)


@dataclass
class Platform:
    data_dir: Path
    process: subprocess.Popen[bytes]

    def kubectl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.data_dir / "kubeconfig"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout


@contextlib.contextmanager
def paas_up(data_dir: Path, runtime: str) -> Iterator[Platform]:
    log = (data_dir / "up.log").open("wb")
    argv = [sys.executable, "-m", "paas", "up", "--data-dir", str(data_dir), "--runtime", runtime]
    argv += ["--api-port", "0", "--dns-port", "0", "--http-port", "0", "--registry-port", "0"]
    argv += ["--network", "root"]
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    platform = Platform(data_dir, process)
    try:
        deadline = time.monotonic() + 180
        while "Press Ctrl-C" not in (data_dir / "up.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("paas up did not start:\n" + (data_dir / "up.log").read_text())
            time.sleep(0.1)
        yield platform
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class Load:
    """Threads making one HTTP GET per new connection to ``ip:port`` until stopped."""

    ip: str
    port: int
    platform: Platform
    evidence: Path
    threads: int = 4
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self) -> tuple[bool, str, int]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        port = 0
        try:
            sock.bind(("0.0.0.0", 0))
            port = sock.getsockname()[1]
            sock.connect((self.ip, self.port))
            sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
            head = sock.recv(64)
            if not head.startswith(b"HTTP/1.0 200"):
                return False, f"answer {head[:30]!r}", port
            while sock.recv(65536):
                pass
            return True, "", port
        except OSError as exc:
            return False, f"{type(exc).__name__}: {exc}", port
        finally:
            sock.close()

    def run(self) -> None:
        while not self._stop.is_set():
            ok, why, port = self.request()
            if ok:
                with self._lock:
                    self.ok += 1
                continue
            record = self.record(why, port)
            with self._lock:
                self.failures.append(f"{time.strftime('%X')} port {port}: {why} ({record.name})")

    def record(self, why: str, port: int) -> Path:
        """The state that sent this flow where it went, captured while it still holds."""
        path = self.evidence / f"failure-{time.time():.3f}-{port}.txt"
        parts = [f"request from source port {port} to {self.ip}:{self.port} failed: {why}"]
        for title, argv in (
            (
                "conntrack entry of this flow",
                ["conntrack", "-L", "-p", "tcp", "--sport", str(port)],
            ),
            ("conntrack entries to the cluster IP", ["conntrack", "-L", "-d", self.ip]),
            ("nat rules", ["iptables-save", "-t", "nat"]),
            (
                "mangle OUTPUT counters (--trace)",
                ["iptables", "-t", "mangle", "-L", "OUTPUT", "-vxn"],
            ),
            ("conntrack statistics", ["conntrack", "-S"]),
            ("neighbours (pod addresses and the MACs the host sends to)", ["ip", "neigh", "show"]),
            ("docker networks' containers", ["sh", "-c", DOCKER_ENDPOINTS]),
            ("process pods' interfaces", ["sh", "-c", NETNS_LINKS]),
        ):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            lines = done.stdout.splitlines()
            if title == "nat rules":
                lines = [line for line in lines if "PAAS-" in line]
            parts.append(f"--- {title}\n" + "\n".join(lines) + done.stderr)
        for title, args in (
            ("endpoints", ["get", "endpoints", "web", "-o", "yaml"]),
            (
                "pods",
                [
                    "get",
                    "pods",
                    "-o",
                    "custom-columns=NAME:.metadata.name,IP:.status.podIP,"
                    "PHASE:.status.phase,DELETING:.metadata.deletionTimestamp,"
                    "READY:.status.conditions[?(@.type=='Ready')].status",
                ],
            ),
        ):
            try:
                parts.append(f"--- {title}\n" + self.platform.kubectl(*args))
            except RuntimeError as exc:
                parts.append(f"--- {title}: {exc}")
        path.write_text("\n".join(parts) + "\n")
        return path

    def __enter__(self) -> Load:
        self._workers = [
            threading.Thread(target=self.run, daemon=True) for _ in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(10)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.ok < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.ok} requests answered in {timeout:.0f}s")
            time.sleep(0.05)


def ready_replicas(platform: Platform) -> int:
    out = platform.kubectl("get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}")
    return int(out or 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runtime", choices=("process", "docker"), default="process")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--cpu-hogs", type=int, default=0, help="processes spinning beside it")
    p.add_argument("--data-dir", type=Path, default=None, help="default: a new temporary dir")
    p.add_argument(
        "--trace", action="store_true", help="record conntrack and watch events (see traced)"
    )
    p.add_argument("--quick", action="store_true", help="2 rounds, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds = min(args.rounds, 2)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="paas-rollout-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    evidence = data_dir / "failures"
    evidence.mkdir(exist_ok=True)
    total_ok = 0
    failures: list[str] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(cpu_hogs(args.cpu_hogs))
        platform = stack.enter_context(paas_up(data_dir, args.runtime))
        if args.trace:
            stack.enter_context(traced(data_dir, platform))
        (data_dir / "web.yaml").write_text(MANIFEST)
        platform.kubectl("apply", "-f", str(data_dir / "web.yaml"))
        deadline = time.monotonic() + 180
        while ready_replicas(platform) < 3:
            if time.monotonic() > deadline:
                raise RuntimeError("the Deployment did not become ready")
            time.sleep(0.5)
        ip = platform.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
        for round_ in range(1, args.rounds + 1):
            started = time.monotonic()
            with Load(ip, 80, platform, evidence) as load:
                load.wait_for(20)
                platform.kubectl("set", "env", "deploy/web", f"ROUND={round_}")
                platform.kubectl("rollout", "status", "deploy/web", "--timeout=180s", timeout=200)
                served = load.ok
                load.wait_for(served + 20)
            total_ok += load.ok
            failures += load.failures
            print(
                f"round {round_:2}: {load.ok:5} requests, {len(load.failures)} failed "
                f"({time.monotonic() - started:.1f}s)",
                flush=True,
            )
            for failure in load.failures:
                print(f"  {failure}", flush=True)
    print(
        json.dumps(
            {
                "runtime": args.runtime,
                "rounds": args.rounds,
                "cpu_hogs": args.cpu_hogs,
                "requests": total_ok + len(failures),
                "failed": len(failures),
                "evidence": str(evidence),
            }
        )
    )
    save_if_asked(args.results, figures(args, total_ok + len(failures), len(failures)))
    if args.data_dir is None and not failures and not args.trace:
        shutil.rmtree(data_dir, ignore_errors=True)  # nothing to read back: no litter in /tmp
    return 1 if failures else 0


def figures(args: argparse.Namespace, requests: int, failed: int) -> list[Figure]:
    """The soak's figures for the summary of ``make bench``: no anchor, a target of 0."""
    label = f"{args.runtime}, {args.rounds} rolling updates"
    if args.cpu_hogs:
        label += f" beside {args.cpu_hogs} CPU hogs"
    return [
        Figure("rollout", f"{label}: failed requests", failed, "requests", target=0),
        Figure("rollout", f"{label}: requests made", requests, "requests", better="higher"),
    ]


if __name__ == "__main__":
    sys.exit(main())

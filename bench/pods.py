"""Pod start-up benchmark: create -> Running and Ready, on the process and the Docker runtime.

Run with ``make bench`` (or ``python -m bench.pods [--quick] [--runtimes process docker]``),
as root. For each runtime it starts, each as its own process, ``paas apiserver`` (SQLite),
``paas controller-manager``, ``paas scheduler`` and one ``paas node --runtime R --network
root`` (without its service proxy: no Service is involved, and the machine's nat rules stay
as they are). Then, ``--runs`` times, two waves of ``--pods`` (50) pods:

- one after another: each pod is created once the one before it is Ready;
- at once: every create request is sent together.

Each pod is what a user runs: the stack image ``paas/stack:bookworm`` (the node's own
system on the process runtime, the locally built Debian image on Docker; built first if
missing), the command ``python3 -m http.server $(PORT)`` and an httpGet readiness probe on
it with ``periodSeconds: 1`` (the shortest Kubernetes allows), so Ready means the app
answers. A wave's pods are deleted, and gone from the API (so the node has torn them
down), before the next wave.

Clock and definitions: ``time.perf_counter()`` of this process. A pod's time starts just
before its create request is sent; each phase ends when this process reads the first watch
event that shows it: scheduled (``spec.nodeName`` set), started (``status.phase`` Running),
ready (the Ready condition True). The breakdown is scheduling (create -> scheduled),
starting (scheduled -> Running) and readiness (Running -> Ready); they add up to create ->
Ready for each pod (their percentiles do not add up).

The anchor (``bench.podanchors``), run in the same waves (the same count, one after
another and at once) while the cluster idles beside it, is the same program started by
hand and timed until it answers ``GET /`` (polled every 10 ms): on the process runtime
``python3 -m http.server PORT`` as a plain subprocess, on Docker the same image and command
run with the engine directly (``docker run -d --init``).

Reported, as medians over the runs: p50 and p99 of create -> Ready per runtime and wave
beside the anchor's, the phases' p50 and p99, the CPU time each component spent per pod,
and the targets (p99 <= 0.5 s on the process runtime, <= 1.5 s on Docker). Everything it
started (processes, containers, the node's bridge and namespaces) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import ComponentProcess, ServerProcess
from bench.podanchors import ANCHOR_NAMES, APP_PORT, DockerAnchor, process_anchor
from bench.report import Figure, save_if_asked
from bench.scheduler import wait_nodes_ready
from bench.stats import percentile
from orchestrator.api.conditions import condition_status
from orchestrator.kubelet.runtimes.base import STACK_IMAGE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's free pod range finder

from support.kubelet import free_pod_cidr  # noqa: E402

RUNTIMES = ("process", "docker")
TARGET_P99 = {"process": 0.5, "docker": 1.5}  # seconds, create -> Ready (issue 11)
WAVES = ("one after another", "at once")
PHASES = ("scheduled", "started", "ready")
NAMESPACE = "bench"
POD_RANGE = "10.208.0.0/16"  # the bench's own (net_proxy has 10.207/16)
POD_TIMEOUT = 120.0  # a pod not Ready by then fails the run


@dataclass(frozen=True)
class Wave:
    """One wave's samples, in seconds: create -> Ready per pod and each phase's share."""

    totals: list[float]
    phases: dict[str, list[float]] = field(default_factory=dict)


def pod_manifest(name: str, wave: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": wave}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "web",
                    "image": STACK_IMAGE,
                    "command": ["python3", "-m", "http.server", "$(PORT)"],
                    "ports": [{"containerPort": APP_PORT}],
                    "readinessProbe": {
                        "httpGet": {"path": "/", "port": APP_PORT},
                        "periodSeconds": 1,
                    },
                }
            ],
        },
    }


# -- the cluster ------------------------------------------------------------------------


class Cluster:
    """The API server, controller-manager, scheduler and one real node on ``runtime``."""

    def __init__(self, runtime: str, data: Path) -> None:
        self.runtime = runtime
        self.data = data
        self.node = f"bench-{runtime[:4]}-{uuid.uuid4().hex[:6]}"
        self.server = ServerProcess("sqlite", data / "api")
        self.components: list[ComponentProcess] = []

    def start(self) -> Cluster:
        (self.data / "api").mkdir()
        self.server.start()
        kubeconfig = str(self.server.kubeconfig())
        cidr = free_pod_cidr(POD_RANGE)
        node = [
            *("node", "--join", self.server.url, f"--token={self.server.token}"),
            *("--ca", str(self.data / "api" / "ca.crt"), "--name", self.node),
            *("--runtime", self.runtime, "--network", "root", "--no-service-proxy"),
            *("--data-dir", str(self.data / "node"), "--pod-cidr", cidr),
            *("--cluster-cidr", POD_RANGE, "--stop-pods-on-exit"),
        ]
        for name, argv in (
            ("controller-manager", ["controller-manager", "--kubeconfig", kubeconfig]),
            ("scheduler", ["scheduler", "--kubeconfig", kubeconfig]),
            ("node", node),
        ):
            self.components.append(ComponentProcess(name, argv, self.data).start())
        return self

    @property
    def pids(self) -> dict[str, list[int]]:
        """The processes whose CPU time is reported: ours, and on Docker the engine's."""
        pids = {"apiserver": [self.server.pid]}
        pids.update((c.name, [c.pid]) for c in self.components)
        if self.runtime == "docker":
            found = subprocess.run(
                ["pgrep", "-x", "dockerd|containerd"], capture_output=True, text=True
            ).stdout.split()
            pids["engine"] = [int(pid) for pid in found]
        return pids

    def stop(self) -> None:
        for component in reversed(self.components):
            component.stop()
        self.server.stop()
        # What a node that stopped badly may have left: its containers, netns, bridge, rules.
        if self.runtime == "docker":
            from orchestrator.kubelet.runtimes.docker import purge_node as purge_docker

            purge_docker(self.node)
        else:
            from orchestrator.kubelet.runtimes.process import purge_node as purge_process

            purge_process(self.node)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time the processes have used so far, with that of the children they waited for
    (the node's ``ip`` and ``iptables`` runs): utime, stime, cutime, cstime of /proc."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


class PodWatch:
    """When this process first saw each pod scheduled, Running and Ready (one watch)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, float]] = {}
        self._ready: dict[str, asyncio.Event] = {}

    def ready_event(self, name: str) -> asyncio.Event:
        return self._ready.setdefault(name, asyncio.Event())

    def observe(self, pod: dict[str, Any], now: float) -> None:
        name = pod["metadata"]["name"]
        seen = self.seen.setdefault(name, {})
        if (pod.get("spec") or {}).get("nodeName"):
            seen.setdefault("scheduled", now)
        if (pod.get("status") or {}).get("phase") == "Running":
            seen.setdefault("started", now)
        if condition_status(pod, "Ready") == "True":
            seen.setdefault("ready", now)
            self.ready_event(name).set()

    async def run(self, http: httpx.AsyncClient, rv: str, opened: asyncio.Event) -> None:
        path = f"/api/v1/namespaces/{NAMESPACE}/pods"
        params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "false"}
        async with http.stream("GET", path, params=params) as resp:
            resp.raise_for_status()
            opened.set()
            async for line in resp.aiter_lines():
                now = time.perf_counter()
                event = json.loads(line)
                if event.get("type") in ("ADDED", "MODIFIED"):
                    self.observe(event["object"], now)


async def pods_wave(
    http: httpx.AsyncClient, watch: PodWatch, wave: str, count: int, at_once: bool
) -> Wave:
    """Create ``count`` pods (together or each after the last is Ready); their times."""
    names = [f"{wave}-{i}" for i in range(count)]
    created: dict[str, float] = {}

    async def create(name: str) -> None:
        created[name] = time.perf_counter()
        r = await http.post(f"/api/v1/namespaces/{NAMESPACE}/pods", json=pod_manifest(name, wave))
        r.raise_for_status()

    async def ready(name: str) -> None:
        try:
            await asyncio.wait_for(watch.ready_event(name).wait(), POD_TIMEOUT)
        except TimeoutError:
            raise RuntimeError(f"pod {name} was not Ready within {POD_TIMEOUT:g}s") from None

    if at_once:
        await asyncio.gather(*(create(n) for n in names))
        await asyncio.gather(*(ready(n) for n in names))
    else:
        for name in names:
            await create(name)
            await ready(name)
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    totals = []
    for name in names:
        seen = watch.seen[name]
        start = created[name]
        # A phase seen in the same event as the next one takes no time of its own.
        scheduled = seen.get("scheduled", seen["ready"])
        started = seen.get("started", seen["ready"])
        phases["scheduled"].append(scheduled - start)
        phases["started"].append(started - scheduled)
        phases["ready"].append(seen["ready"] - started)
        totals.append(seen["ready"] - start)
    return Wave(totals, phases)


async def delete_wave(http: httpx.AsyncClient, wave: str) -> None:
    """Delete the wave's pods and wait until the node has removed them (gone from the API)."""
    path = f"/api/v1/namespaces/{NAMESPACE}/pods"
    r = await http.delete(path, params={"labelSelector": f"bench={wave}"})
    r.raise_for_status()
    deadline = time.monotonic() + POD_TIMEOUT
    while True:
        r = await http.get(path, params={"labelSelector": f"bench={wave}"})
        r.raise_for_status()
        if not r.json()["items"]:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pods of wave {wave} were not removed in {POD_TIMEOUT:g}s")
        await asyncio.sleep(0.2)


# -- one runtime ------------------------------------------------------------------------


@dataclass
class RuntimeResult:
    pods: dict[str, list[Wave]] = field(default_factory=lambda: {w: [] for w in WAVES})
    anchors: dict[str, list[list[float]]] = field(default_factory=lambda: {w: [] for w in WAVES})
    cpu_ms: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {w: {} for w in WAVES}
    )


def ensure_stack_image() -> None:
    from orchestrator.kubelet.stack import StackSettings, build_stack_image

    result = build_stack_image(
        StackSettings(), progress=lambda line: print(f"  {line}", file=sys.stderr)
    )
    if result.built:
        print(f"  built {result.image} in {result.seconds:.0f}s", file=sys.stderr)


async def bench_runtime(runtime: str, args: argparse.Namespace) -> RuntimeResult:
    result = RuntimeResult()
    anchor = DockerAnchor() if runtime == "docker" else None
    with contextlib.ExitStack() as stack:
        if args.keep is not None:  # the components' logs and state, kept to look into
            data = args.keep / f"{runtime}-{time.strftime('%H%M%S')}"
            data.mkdir(parents=True)
        else:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pods-")))
        cluster = Cluster(runtime, data)
        try:
            cluster.start()
            async with (
                cluster.server.client() as http,
                cluster.server.client(timeout=None) as watcher,
            ):
                r = await http.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
                r.raise_for_status()
                await wait_nodes_ready(http, 1)
                await warm_up(http, runtime)
                r = await http.get(f"/api/v1/namespaces/{NAMESPACE}/pods", params={"limit": 1})
                watch = PodWatch()
                opened = asyncio.Event()
                task = asyncio.create_task(
                    watch.run(watcher, r.json()["metadata"]["resourceVersion"], opened)
                )
                await asyncio.wait_for(opened.wait(), 30)
                try:
                    for run in range(args.runs):
                        for wave, at_once in zip(WAVES, (False, True), strict=True):
                            pids = cluster.pids
                            engine = pids.get("engine", [])
                            engine_before = cpu_seconds(engine)
                            if anchor is not None:
                                times = await asyncio.to_thread(anchor.wave, args.pods, at_once)
                            else:
                                times = await process_anchor(args.pods, at_once)
                            result.anchors[wave].append(times)
                            if engine:  # what the engine spends on the anchor's containers
                                spent = (cpu_seconds(engine) - engine_before) * 1000 / args.pods
                                result.cpu_ms[wave].setdefault("engine (anchor)", []).append(spent)
                            tag = f"r{run}-{'seq' if not at_once else 'all'}"
                            before = {n: cpu_seconds(p) for n, p in pids.items()}
                            got = await pods_wave(http, watch, tag, args.pods, at_once)
                            for name, some in pids.items():
                                spent = (cpu_seconds(some) - before[name]) * 1000 / args.pods
                                result.cpu_ms[wave].setdefault(name, []).append(spent)
                            result.pods[wave].append(got)
                            await delete_wave(http, tag)
                        print(
                            f"  {runtime}: run {run + 1}/{args.runs} done",
                            file=sys.stderr,
                            flush=True,
                        )
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        finally:
            cluster.stop()
            if anchor is not None:
                anchor.close()
    return result


async def warm_up(http: httpx.AsyncClient, runtime: str) -> None:
    """One pod started and removed first, so that no wave pays for a first time (imports,
    the engine's first use of the image)."""
    watch = PodWatch()
    r = await http.get(f"/api/v1/namespaces/{NAMESPACE}/pods", params={"limit": 1})
    opened = asyncio.Event()
    task = asyncio.create_task(watch.run(http, r.json()["metadata"]["resourceVersion"], opened))
    try:
        await asyncio.wait_for(opened.wait(), 30)
        await pods_wave(http, watch, "warm", 1, False)
        await delete_wave(http, "warm")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- the report -------------------------------------------------------------------------


def med(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def over_runs(runs: list[list[float]], p: float) -> float:
    """The median over runs of each run's p-th percentile."""
    return med(percentile(samples, p) for samples in runs)


def report(results: dict[str, RuntimeResult], args: argparse.Namespace) -> str:
    lines = [
        f"Pod start-up: {args.pods} pods a wave, create -> Ready as seen through a watch, "
        f"medians of {args.runs} runs (seconds)",
        "",
        f"{'runtime':8} {'wave':18} {'p50':>6} {'p99':>6} | {'anchor':>6} {'p99':>6} | "
        f"{'sched':>6} {'p99':>6} {'start':>6} {'p99':>6} {'ready':>6} {'p99':>6} | target",
    ]
    for runtime, r in results.items():
        for wave in WAVES:
            pods = r.pods[wave]
            totals = [w.totals for w in pods]
            cells = [over_runs(totals, 50), over_runs(totals, 99)]
            cells += [over_runs(r.anchors[wave], 50), over_runs(r.anchors[wave], 99)]
            for phase in PHASES:
                runs = [w.phases[phase] for w in pods]
                cells += [over_runs(runs, 50), over_runs(runs, 99)]
            target = TARGET_P99[runtime]
            verdict = "met" if cells[1] <= target else "NOT met"
            text = [f"{c:6.3f}" for c in cells]
            lines.append(
                f"{runtime:8} {wave:18} {text[0]} {text[1]} | {text[2]} {text[3]} | "
                f"{' '.join(text[4:])} | p99 <= {target:g}: {verdict}"
            )
    lines += [
        "",
        "phases: sched = create -> scheduled, start = scheduled -> Running, "
        "ready = Running -> Ready",
    ]
    for runtime in results:
        lines.append(f"anchor ({runtime}): {ANCHOR_NAMES[runtime]}")
    lines.append(
        "CPU ms per pod from create to Ready (median of runs; with the children each waited "
        "for; engine: dockerd and containerd, and per container of the anchor's wave):"
    )
    for runtime, r in results.items():
        for wave in WAVES:
            spent = ", ".join(f"{n} {med(v):.0f}" for n, v in r.cpu_ms[wave].items())
            lines.append(f"  {runtime}, {wave}: {spent}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines.append(f"load average at the end (1, 5, 15 min; {os.cpu_count()} cores): {load}")
    return "\n".join(lines)


def figures(results: dict[str, RuntimeResult], count: int) -> list[Figure]:
    """The report's figures; the pod count is in their names (a --quick run's differ)."""
    out = []
    for runtime, r in results.items():
        for wave in WAVES:
            totals = [w.totals for w in r.pods[wave]]
            anchors = r.anchors[wave]
            label = f"{runtime}, {count} {wave}"
            for p in (50, 99):
                out.append(
                    Figure(
                        bench="pods",
                        name=f"{label}: create -> Ready p{p}",
                        value=over_runs(totals, p),
                        unit="s",
                        anchor=over_runs(anchors, p),
                        anchor_name=f"{runtime}: {ANCHOR_NAMES[runtime]}",
                        target=TARGET_P99[runtime] if p == 99 else None,
                    )
                )
            for phase in PHASES:
                runs = [w.phases[phase] for w in r.pods[wave]]
                out.append(Figure("pods", f"{label}: {phase} p50", over_runs(runs, 50), "s"))
            cpu = r.cpu_ms[wave]
            for name in ("apiserver", "node", "engine"):
                if name not in cpu:
                    continue
                anchor = med(cpu["engine (anchor)"]) if name == "engine" else None
                out.append(
                    Figure(
                        "pods",
                        f"{label}: {name} CPU/pod",
                        med(cpu[name]),
                        "ms",
                        anchor=anchor,
                        anchor_name="the engine's CPU per container of the anchor's wave"
                        if anchor is not None
                        else "",
                    )
                )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pods", description=__doc__.splitlines()[0])
    p.add_argument("--pods", type=int, default=50, help="pods a wave")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES))
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    p.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the components' logs and state under DIR"
    )
    p.add_argument("--quick", action="store_true", help="1 run of 10 pods a wave")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.pods = 1, 10
    if os.geteuid() != 0:
        print("bench.pods needs root (pod network namespaces, the node's bridge)", file=sys.stderr)
        return 2
    results: dict[str, RuntimeResult] = {}
    for runtime in args.runtimes:
        if runtime == "docker":
            ensure_stack_image()
        results[runtime] = asyncio.run(bench_runtime(runtime, args))
    print(report(results, args))
    save_if_asked(args.results, figures(results, args.pods))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

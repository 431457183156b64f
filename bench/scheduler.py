"""Scheduler benchmark: simulated nodes, Deployments of many replicas.

Run with ``make bench`` (or ``python -m bench.scheduler [--quick]``). For
each store it starts, each as its own process: ``paas apiserver``,
``paas controller-manager``, ``paas scheduler`` and ``paas node --runtime
simulated --count NODES`` (kubemark-style hollow nodes: no containers run).
Then, watching pods from this process:

- a Deployment of ``--replicas`` (1,000): time from its creation to every
  pod Running, and pods bound per second (first to last binding seen);
- ``--big`` more pods (5,000) as 5 Deployments created at once: pods bound
  per second over the whole burst, and time to all Running.

For each wave it also reports the CPU time each process spent per pod
(utime + stime from ``/proc/<pid>/stat``): unlike the rates, that figure
hardly moves when other work shares the machine, so it is the one to compare
when tuning the API server.

The anchor is the same work measured on etcd beside SQLite; targets from the
issue are >= 300 pods/s bound and 1,000 replicas Running in <= 10 s (SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import ComponentProcess, ServerProcess
from bench.report import Better, Figure, save_if_asked
from orchestrator.api.conditions import condition_status

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's etcd launcher

from support.etcd import EtcdProcess  # noqa: E402


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "100%"}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "paas/stack:bookworm",
                            "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                        }
                    ]
                },
            },
        },
    }


async def wait_nodes_ready(http: httpx.AsyncClient, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await http.get("/api/v1/nodes")
        nodes = r.json()["items"]
        ready = [n for n in nodes if condition_status(n, "Ready") == "True"]
        if len(ready) >= count:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{count} nodes did not become Ready within {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_wave(
    server: ServerProcess, names: list[str], replicas: int, pids: dict[str, int]
) -> dict[str, float]:
    """Create Deployments and watch their pods until all are Running."""
    total = replicas * len(names)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    bound: dict[str, float] = {}
    created: dict[str, float] = {}
    running: set[str] = set()
    done = asyncio.Event()
    async with server.client() as http, server.client(timeout=None) as watcher:
        r = await http.get("/api/v1/namespaces/bench/pods", params={"limit": 1})
        rv = r.json()["metadata"]["resourceVersion"]
        selector = "app in (" + ",".join(names) + ")"
        opened = asyncio.Event()

        async def watch() -> None:
            async with watcher.stream(
                "GET",
                "/api/v1/namespaces/bench/pods",
                params={
                    "watch": "1",
                    "resourceVersion": rv,
                    "labelSelector": selector,
                },
            ) as resp:
                opened.set()
                async for line in resp.aiter_lines():
                    obj = json.loads(line)["object"]
                    name = obj["metadata"]["name"]
                    created.setdefault(name, time.perf_counter())
                    if obj.get("spec", {}).get("nodeName") and name not in bound:
                        bound[name] = time.perf_counter()
                    if obj.get("status", {}).get("phase") == "Running":
                        running.add(name)
                    if len(running) >= total:
                        done.set()
                        return

        task = asyncio.create_task(watch())
        await opened.wait()
        start = time.perf_counter()
        for name in names:
            (
                await http.post(
                    "/apis/apps/v1/namespaces/bench/deployments", json=deployment(name, replicas)
                )
            ).raise_for_status()
        await asyncio.wait_for(done.wait(), 600)
        elapsed = time.perf_counter() - start
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    cpu_ms = {
        f"cpu_ms_{name}": (cpu_seconds(pid) - cpu_before[name]) * 1000 / total
        for name, pid in pids.items()
    }
    return {
        **cpu_ms,
        "pods": total,
        "all_running_s": elapsed,
        "bound_per_s": rate(bound.values()),
        "created_per_s": rate(created.values()),
    }


def rate(times: Iterable[float]) -> float:
    """Events per second between the first and the last."""
    ordered = sorted(times)
    span = ordered[-1] - ordered[0] if len(ordered) > 1 else 0.0
    return (len(ordered) - 1) / span if span else 0.0


async def bench_store(spec: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="bench-sched-") as tmp:
        data = Path(tmp)
        server = ServerProcess(spec, data).start()
        comps: list[ComponentProcess] = []
        try:
            kubeconfig = str(server.kubeconfig())
            comps = [
                ComponentProcess(
                    "controller-manager", ["controller-manager", "--kubeconfig", kubeconfig], data
                ).start(),
                ComponentProcess(
                    "scheduler", ["scheduler", "--kubeconfig", kubeconfig], data
                ).start(),
                ComponentProcess(
                    "node",
                    [
                        "node",
                        "--join",
                        server.url,
                        f"--token={server.token}",
                        "--ca",
                        str(data / "ca.crt"),
                        "--name",
                        "hollow",
                        "--runtime",
                        "simulated",
                        "--count",
                        str(args.nodes),
                        "--pods",
                        "200",
                    ],
                    data,
                ).start(),
            ]
            async with server.client() as http:
                (
                    await http.post("/api/v1/namespaces", json={"metadata": {"name": "bench"}})
                ).raise_for_status()
                await wait_nodes_ready(http, args.nodes)
            pids = {"apiserver": server.pid}
            pids.update((comp.name, comp.pid) for comp in comps)
            one = await run_wave(server, ["one"], args.replicas, pids)
            big = await run_wave(server, [f"big{i}" for i in range(5)], args.big // 5, pids)
        finally:
            for comp in reversed(comps):
                comp.stop()
            server.stop()
    return {"deployment": one, "burst": big}


def report(results: dict[str, dict[str, dict[str, float]]], args: argparse.Namespace) -> str:
    stores = list(results)
    lines = [
        f"Scheduler benchmark: {args.nodes} simulated nodes, one Deployment of "
        f"{args.replicas} replicas, then {args.big} pods as 5 Deployments",
        "",
        f"{'measure':<44}" + "".join(f"{s:>12}" for s in stores) + "   target",
    ]

    def row(label: str, wave: str, key: str, fmt: str, target: str) -> None:
        lines.append(
            f"{label:<44}"
            + "".join(f"{format(results[s][wave][key], fmt):>12}" for s in stores)
            + f"   {target}"
        )

    row(
        f"{args.replicas} replicas: all Running (s)",
        "deployment",
        "all_running_s",
        ".2f",
        "<= 10 (sqlite)",
    )
    row(f"{args.replicas} replicas: pods created/s", "deployment", "created_per_s", ".0f", "")
    row(f"{args.replicas} replicas: pods bound/s", "deployment", "bound_per_s", ".0f", ">= 300")
    row(f"{args.big} pods: all Running (s)", "burst", "all_running_s", ".2f", "")
    row(f"{args.big} pods: pods created/s", "burst", "created_per_s", ".0f", "")
    row(f"{args.big} pods: pods bound/s", "burst", "bound_per_s", ".0f", ">= 300")
    for wave, label in (("deployment", f"{args.replicas} replicas"), ("burst", f"{args.big} pods")):
        for key in results[stores[0]][wave]:
            if key.startswith("cpu_ms_"):
                row(f"{label}: {key[7:]} CPU ms/pod", wave, key, ".2f", "")
    if "sqlite" in results and "etcd" in results:
        ratio = results["etcd"]["deployment"]["all_running_s"] / max(
            results["sqlite"]["deployment"]["all_running_s"], 1e-9
        )
        lines += ["", f"etcd takes {ratio:.2f}x the time SQLite takes for {args.replicas} replicas"]
    return "\n".join(lines)


def figures(
    results: dict[str, dict[str, dict[str, float]]], args: argparse.Namespace
) -> list[Figure]:
    """The report's figures; SQLite's beside the same work on etcd, the anchor."""
    waves = {"deployment": f"{args.replicas} replicas", "burst": f"{args.big} pods"}
    shapes: dict[str, tuple[str, str, Better]] = {
        "all_running_s": ("all Running", "s", "lower"),
        "created_per_s": ("pods created/s", "/s", "higher"),
        "bound_per_s": ("pods bound/s", "/s", "higher"),
    }
    targets = {("deployment", "all_running_s"): 10.0, ("deployment", "bound_per_s"): 300.0}
    targets[("burst", "bound_per_s")] = 300.0
    out = []
    for store, r in results.items():
        anchor = results.get("etcd") if store != "etcd" else None
        for wave, label in waves.items():
            keys = [k for k in shapes if k in r[wave]]
            keys += [k for k in r[wave] if k.startswith("cpu_ms_")]
            for key in keys:
                value = r[wave][key]
                if key in shapes:
                    name, unit, better = shapes[key]
                else:
                    name, unit, better = f"{key[7:]} CPU/pod", "ms", "lower"
                target = targets.get((wave, key))
                out.append(
                    Figure(
                        "scheduler",
                        f"{store}: {label}: {name}",
                        value,
                        unit,
                        better=better,
                        anchor=anchor[wave].get(key) if anchor else None,
                        anchor_name="the same work on etcd" if anchor else "",
                        target=None if store != "sqlite" and key == "all_running_s" else target,
                    )
                )
    return out


async def main_async(args: argparse.Namespace) -> int:
    results: dict[str, dict[str, dict[str, float]]] = {}
    with EtcdProcess() as etcd:
        for store in args.stores:
            spec = "sqlite" if store == "sqlite" else f"etcd://{etcd.endpoint}"
            results[store] = await bench_store(spec, args)
            print(f"  {store}: done", file=sys.stderr, flush=True)
    print(report(results, args))
    save_if_asked(args.results, figures(results, args))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--replicas", type=int, default=1000)
    p.add_argument("--big", type=int, default=5000)
    p.add_argument("--stores", nargs="+", default=["sqlite", "etcd"])
    p.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.nodes, args.replicas, args.big = 10, 100, 250
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())

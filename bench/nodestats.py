"""What measuring costs the node agent: CPU per stats pass at 50 pods, beside the agent idle.

Run with ``python -m bench.nodestats [--quick] [--results FILE]``. For each
way the process runtime measures (its cgroups as root; /proc without
them, ``isolation="off"``), it starts the runtime in this process with 50
cheap pods (``sleep``, loopback networking so that no bridge or netns is
made), then, in one run:

- anchor: this process's CPU time over ``idle`` seconds with the pods
  running and no sampling: the agent idle (its exit watchers, the loop);
- measured: ``passes`` stats passes back to back (``StatsSampler.
  sample_once``: the runtime's readings, the node's, the cache), then the
  Summary built from them (what one ``/stats/summary`` costs); CPU time
  per pass is the median of the passes' own CPU times.

The figures: CPU milliseconds per pass, and what that is as a share of one
core at the default interval (10 s, cAdvisor's housekeeping), beside the
idle agent's share of a core; target < 2 % of a core. CPU time is
``time.process_time`` (every thread of the process, so the worker threads
the reads run in count).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Figure, save_if_asked
from orchestrator.kubelet.runtimes.base import STACK_IMAGE, ContainerSpec, SandboxSpec
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.statssampler import StatsSampler, StatsSettings
from orchestrator.kubelet.statssummary import summary

PODS = 50
DEFAULT_INTERVAL = StatsSettings().interval


async def start_pods(runtime: ProcessRuntime, count: int) -> None:
    async def one(i: int) -> None:
        uid = f"bench-{i:03d}"
        sandbox = await runtime.run_sandbox(
            SandboxSpec(pod_uid=uid, namespace="bench", name=f"sleeper-{i}", hostname="s")
        )
        spec = ContainerSpec(
            pod_uid=uid,
            namespace="bench",
            pod_name=f"sleeper-{i}",
            name="app",
            attempt=0,
            image=STACK_IMAGE,
            command=("sleep", "3600"),
        )
        await runtime.start_container(sandbox, spec)

    for first in range(0, count, 10):  # ten at a time: supervisors start in parallel
        await asyncio.gather(*(one(i) for i in range(first, min(first + 10, count))))


async def measure(isolation: str, idle: float, passes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-nodestats-") as tmp:
        settings = ProcessRuntimeSettings(network="loopback", isolation=isolation)  # type: ignore[arg-type]
        runtime = ProcessRuntime(Path(tmp) / "runtime", f"bench-{os.getpid()}", settings)
        await runtime.start("")
        try:
            await start_pods(runtime, PODS)
            sampler = StatsSampler(runtime, runtime.node_name)
            begin = time.process_time()
            await asyncio.sleep(idle)  # the anchor: the agent with its pods, not sampling
            idle_share = (time.process_time() - begin) / idle
            costs = []
            for _ in range(passes):
                began = time.process_time()
                await sampler.sample_once()
                summary(sampler.snapshot())
                costs.append(time.process_time() - began)
            measured = len(sampler.snapshot().containers)
        finally:
            await runtime.teardown()
            await runtime.close()
    per_pass = statistics.median(costs)
    return {
        "per_pass_ms": per_pass * 1000,
        "share": per_pass / DEFAULT_INTERVAL * 100,
        "idle_share": idle_share * 100,
        "containers": measured,
        "cgroups": float(runtime.cgroups is not None),
    }


def figures(results: dict[str, dict[str, float]]) -> list[Figure]:
    out = []
    for way, r in results.items():
        out.append(
            Figure(
                "nodestats",
                f"{way}, {PODS} pods: CPU per stats pass",
                r["per_pass_ms"],
                "ms",
            )
        )
        out.append(
            Figure(
                "nodestats",
                f"{way}, {PODS} pods: % of a core at a {DEFAULT_INTERVAL:.0f} s interval",
                r["share"],
                "%",
                anchor=r["idle_share"],
                anchor_name="the agent idle with its pods, no sampling",
                target=2.0,
            )
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer passes and a shorter idle anchor")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args()
    idle, passes = (2.0, 10) if args.quick else (10.0, 40)
    ways = {"cgroups": "auto", "/proc": "off"} if os.geteuid() == 0 else {"/proc": "off"}
    results = {}
    for way, isolation in ways.items():
        r = asyncio.run(measure(isolation, idle, passes))
        if way == "cgroups" and not r["cgroups"]:
            print("cgroups: none writable here, skipped")
            continue
        results[way] = r
        print(
            f"{way:8s} {PODS} pods ({r['containers']:.0f} measured): "
            f"{r['per_pass_ms']:.1f} ms CPU per pass = {r['share']:.2f}% of a core every "
            f"{DEFAULT_INTERVAL:.0f} s; idle agent (anchor) {r['idle_share']:.2f}% of a core"
        )
    save_if_asked(args.results, figures(results))


if __name__ == "__main__":
    main()

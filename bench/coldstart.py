"""Cold start: a preview scaled to zero, woken by a request, timed to its first answer.

Run with ``make bench BENCHES=coldstart`` (or ``python -m bench.coldstart
[--wakes N] [--runtimes process docker]``). For each runtime it starts
``paas up`` with short autoscaling windows (``--autoscale-window``,
``--scale-to-zero-grace``), pushes ``examples/python-flask`` to a preview
branch with the real ``git`` client (previews scale to zero by default),
then ``--wakes`` times:

1. waits until the branch has no pod left (the autoscaler took it to zero);
2. sends one request to the preview's URL through the router and times it
   to its answer: the router holds it (it is the activator), tells the
   autoscaler, which scales the revision to one pod; the node starts it;
   the router forwards the request once the pod is ready.

Every wake must answer 200; anything else is reported and fails the run.
The anchor, run in the same process on the same machine: the app's own
start-to-listen time, its Procfile ``web:`` command started by hand in a
venv with its dependencies installed, to its first 200 (median of the
same number of starts). Targets (issue 14): cold start p50 at most 0.3 s
above that anchor on the process runtime, 1 s on Docker.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.push import (
    APP,
    EXAMPLE,
    Repo,
    cannot_run,
    first_200,
    get,
    paas_up,
    serve_once,
)
from bench.report import Figure, save_if_asked

BRANCH = "preview"
HOST = f"{BRANCH}--{APP}.localhost"
WINDOW, GRACE = "4", "1"  # seconds: short windows so each wake starts from zero quickly
ZERO_TIMEOUT = 120.0
TARGETS = {"process": 0.3, "docker": 1.0}  # cold start p50 minus the app's own start, seconds
ANCHOR_NAME = "the app's own web: command started by hand, to its first 200"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def pods_of_branch(data_dir: Path) -> int:
    done = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(data_dir / "kubeconfig"),
            "get",
            "pods",
            "-l",
            f"paas.dev/app={APP},paas.dev/branch={BRANCH}",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return len(json.loads(done.stdout)["items"])


def wait_for_zero(data_dir: Path) -> None:
    deadline = time.monotonic() + ZERO_TIMEOUT
    while pods_of_branch(data_dir) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{BRANCH} never scaled to zero in {ZERO_TIMEOUT:.0f}s")
        time.sleep(0.2)


def wake(router: str) -> float:
    started = time.monotonic()
    status, body = get(router, HOST)
    seconds = time.monotonic() - started
    if status != 200:
        raise RuntimeError(f"a wake-up was answered {status}: {body[:300]}")
    return seconds


def app_start(work: Path, starts: int) -> list[float]:
    """The app's own start-to-first-200, by hand, in a venv with its dependencies."""
    tree = work / f"hand-{uuid.uuid4().hex[:6]}"
    shutil.copytree(EXAMPLE, tree)
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", "venv"], cwd=tree, check=True)
    pip = [str(tree / "venv/bin/pip"), "install", "-q", "-r", "requirements.txt"]
    subprocess.run(pip, cwd=tree, capture_output=True, check=True)
    web = next(
        line.split(":", 1)[1].strip()
        for line in (tree / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    return [serve_once(tree, web, time.monotonic()) for _ in range(starts)]


@dataclass(frozen=True)
class RuntimeResult:
    wakes: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.wakes)

    @property
    def p99(self) -> float:
        return percentile(self.wakes, 0.99)


def bench_runtime(runtime: str, wakes: int, work: Path) -> RuntimeResult:
    data_dir = work / f"paas-{runtime}"
    data_dir.mkdir()
    flags = ("--autoscale-window", WINDOW, "--scale-to-zero-grace", GRACE)
    with paas_up(data_dir, runtime, *flags) as endpoints:
        router = endpoints["http"]
        repo = Repo(work / f"home-{runtime}", data_dir)
        pushed = repo.push(router, HOST, "Hello from Python", refspec=f"main:{BRANCH}")
        print(f"  {runtime}: pushed {BRANCH} in {pushed.seconds:.2f}s", flush=True)
        times = []
        for n in range(1, wakes + 1):
            wait_for_zero(data_dir)
            times.append(wake(router))
            print(f"  {runtime}: wake {n}: {times[-1]:.3f}s", flush=True)
        first_200(router, HOST, "Hello", time.monotonic())  # still serving after the last
    return RuntimeResult(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wakes", type=int, default=20)
    p.add_argument("--runtimes", nargs="+", default=["process", "docker"])
    p.add_argument("--quick", action="store_true", help="5 wakes, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    wakes = 5 if args.quick else args.wakes
    failed = False
    results: dict[str, RuntimeResult] = {}
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp:
        work = Path(tmp)
        anchor = statistics.median(app_start(work, wakes))
        print(f"the app's own start to first 200 (by hand, median of {wakes}): {anchor:.3f}s")
        for runtime in args.runtimes:
            why = cannot_run(runtime)
            if why:
                print(f"  {runtime}: not run: {why}")
                failed = True
                continue
            try:
                results[runtime] = bench_runtime(runtime, wakes, work)
            except RuntimeError as exc:
                print(f"  {runtime}: FAILED: {exc}")
                failed = True
    figures = []
    print(f"\ncold start through the router, {wakes} wakes from zero pods")
    print(f"  {'':<12}{'p50':>8}{'p99':>8}{'p50 - anchor':>14}{'target':>10}")
    for runtime, r in results.items():
        over = r.p50 - anchor
        met = over <= TARGETS[runtime]
        print(
            f"  {runtime:<12}{r.p50:8.3f}{r.p99:8.3f}{over:14.3f}"
            f"{'<= ' + str(TARGETS[runtime]):>10} {'met' if met else 'MISSED'}"
        )
        figures += [
            Figure(
                "coldstart",
                f"{runtime}: wake from zero to first 200 p50",
                r.p50,
                "s",
                anchor=anchor,
                anchor_name=ANCHOR_NAME,
                target=anchor + TARGETS[runtime],
            ),
            Figure(
                "coldstart",
                f"{runtime}: wake from zero to first 200 p99",
                r.p99,
                "s",
                anchor=anchor,
                anchor_name=ANCHOR_NAME,
            ),
        ]
    save_if_asked(args.results, figures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

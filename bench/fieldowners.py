"""What field ownership costs a write, in process: managedFields per create, update and apply.

Every write now compares the stored object with the new one and records the
writer's fields (``orchestrator.apiserver.managedfields``); server-side apply
also merges, prunes and checks conflicts (``applying``). This times those
steps alone on a defaulted Deployment carrying two managers' entries, beside
the anchor every write already pays in the same process: encoding the object
to its stored JSON and decoding it back (``jsoncodec``). Run with
``python -m bench.fieldowners [--rounds N]``; figures are microseconds per
call (the median of 7 batches) and their ratio to the anchor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import Figure, save_if_asked
from orchestrator.api import jsoncodec
from orchestrator.api.copying import copy_json
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.strategy import strategy_of
from orchestrator.apiserver import applying, managedfields


def deployment(replicas: int = 2, image: str = "nginx:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "command": ["python3", "-m", "http.server"],
                            "env": [{"name": f"V{i}", "value": str(i)} for i in range(8)],
                            "ports": [{"containerPort": 8080}],
                        },
                        {"name": "side", "image": "busybox", "args": ["sleep", "1d"]},
                    ]
                },
            },
        },
    }


def per_call_us(fn: Callable[[], object], rounds: int) -> float:
    batches = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(rounds):
            fn()
        batches.append((time.perf_counter() - t0) / rounds * 1e6)
    return statistics.median(batches)


def measure(rounds: int) -> dict[str, float]:
    rt = BUILTIN_TYPES.require("apps", "Deployment")
    default = strategy_of(rt).default
    live = default(deployment())
    managedfields.record_write(rt, None, live, "kubectl-client-side-apply")
    live = applying.apply(rt, live, deployment(image="nginx:2"), "kubectl", force=True)
    assert len(live["metadata"]["managedFields"]) == 2
    scaled = default(copy_json(live))
    scaled["spec"]["replicas"] = 5

    fresh = default(deployment())

    def create() -> None:
        fresh["metadata"].pop("managedFields", None)
        managedfields.record_write(rt, None, fresh, "kubectl-create")

    def update() -> None:  # as the registry hands it over: the stored managedFields carried
        scaled["metadata"]["managedFields"] = live["metadata"]["managedFields"]
        managedfields.record_write(rt, live, scaled, "kubectl-scale")

    def apply_same() -> None:
        applying.apply(rt, live, deployment(image="nginx:2"), "kubectl", force=False)

    def apply_changed() -> None:
        applying.apply(rt, live, deployment(replicas=4, image="nginx:2"), "kubectl", force=True)

    def anchor() -> None:
        jsoncodec.loads(jsoncodec.dumps(live))

    return {
        "anchor: encode + decode stored JSON": per_call_us(anchor, rounds),
        "create: record the creator's fields": per_call_us(create, rounds),
        "update: compare and record (replicas)": per_call_us(update, rounds),
        "apply: same config again": per_call_us(apply_same, rounds),
        "apply: changed config, forced": per_call_us(apply_changed, rounds),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=500)
    p.add_argument("--quick", action="store_true", help="few rounds, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    results = measure(20 if args.quick else args.rounds)
    anchor_name = "anchor: encode + decode stored JSON"
    anchor = results[anchor_name]
    print("field ownership per write (defaulted Deployment, two managers), in process")
    figures = []
    for name, us in results.items():
        print(f"  {name:<42}{us:>9.1f} us  {us / anchor:>5.2f}x anchor")
        if name != anchor_name:
            figures.append(
                Figure("fieldowners", name, us, "us", anchor=anchor, anchor_name=anchor_name)
            )
    save_if_asked(args.results, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

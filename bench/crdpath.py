"""Micro-benchmark of a custom resource's write and read path, stage by stage.

``python -m bench.crdpath [--rounds N]`` builds the strategy of the API
benchmark's CRD (``bench/crdschema.py``: Knative-sized schema, three CEL
rules) the way the server does, then times, in-process and without HTTP or a
store, each step the registry runs for one create of its 2.6 KB object: the
defensive copy, pruning, defaulting, ObjectMeta checks, schema validation,
CEL rules, the storage form, and a read (``for_read`` of the stored form).
It prints microseconds per call (best of several batches, the figure least
disturbed by a shared machine), so a change to any stage shows directly.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from bench import crdschema
from orchestrator.api import openapi
from orchestrator.api.copying import copy_json
from orchestrator.api.validation import validate_metadata
from orchestrator.apiserver import objectmeta
from orchestrator.apiserver.crds.catalogue import build_strategy


def strategy() -> Any:
    crd = crdschema.crd()
    crd["metadata"].update(uid="bench-uid", generation=1)
    version = crd["spec"]["versions"][0]
    return build_strategy(crd, version, version)


def created(name: str) -> dict[str, Any]:
    """The object as the registry holds it after admission (metadata filled in)."""
    obj = crdschema.service(name)
    obj["metadata"]["namespace"] = "bench"
    objectmeta.fill_for_create(obj, has_generation=True, now="2024-01-01T00:00:00Z")
    return obj


def best_us(fn: Callable[[Any], Any], setup: Callable[[], Any] | None, rounds: int) -> float:
    """Best per-call time over 15 batches of ``rounds`` calls, in microseconds."""
    best = float("inf")
    for _ in range(15):
        args = [setup() for _ in range(rounds)] if setup else [None] * rounds
        start = time.perf_counter()
        for arg in args:
            fn(arg)
        best = min(best, (time.perf_counter() - start) / rounds)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    s = strategy()
    obj = created("bench-0")
    raw = json.loads(json.dumps(obj))
    pruned = copy_json(raw)
    s.unknown_fields(pruned)
    defaulted = s.default(copy_json(pruned))
    body = {k: v for k, v in defaulted.items() if k not in ("apiVersion", "kind", "metadata")}
    stored = json.dumps(s.for_storage(defaulted))
    assert not s.validate(defaulted, namespaced=True), s.validate(defaulted, namespaced=True)

    fresh = lambda: copy_json(raw)  # noqa: E731
    fresh_pruned = lambda: copy_json(pruned)  # noqa: E731
    stages: list[tuple[str, Callable[[Any], Any], Callable[[], Any] | None]] = [
        ("copy (Registry._admit_body)", lambda _: copy_json(raw), None),
        ("prune (unknown_fields)", s.unknown_fields, fresh),
        ("default", s.default, fresh_pruned),
        (
            "ObjectMeta checks",
            lambda _: validate_metadata("", defaulted["metadata"], namespaced=True),
            None,
        ),
        ("schema validation", lambda _: openapi.validate(body, s.plan), None),
        ("CEL rules", lambda _: s.rules.evaluate(defaulted, None), None),
        ("validate (all of it)", lambda _: s.validate(defaulted, namespaced=True), None),
        ("for_storage", lambda _: s.for_storage(defaulted), None),
        ("for_read (after json decode)", s.for_read, lambda: json.loads(stored)),
    ]
    total = 0.0
    for label, fn, setup in stages:
        us = best_us(fn, setup, args.rounds)
        if label not in ("validate (all of it)", "for_read (after json decode)"):
            if label not in ("schema validation", "CEL rules", "ObjectMeta checks"):
                total += us
        if label == "validate (all of it)":
            total += us
        print(f"{label:32s} {us:8.1f} us")
    print(f"{'create path total':32s} {total:8.1f} us")


if __name__ == "__main__":
    main()

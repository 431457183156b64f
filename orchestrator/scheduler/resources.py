"""Amounts of compute resources, and how much of them a pod asks for.

``Resources`` holds cpu in millicores, memory and ephemeral storage in bytes,
and any other (extended) resource as a whole number, so that comparing a
request with what a node has left is integer arithmetic.

A pod's request follows Kubernetes (``resource.PodRequests``): the sum of its
containers, or the largest init container if that is more, where a sidecar
(an init container with ``restartPolicy: Always``) runs beside everything
after it and so adds to both; plus ``spec.overhead``. For scoring, a
container that requests no cpu or memory counts as 100m and 200Mi
(``NonZeroRequested``), so that pods without requests still spread.

Quantities that do not parse count as zero: validation refuses them on
write, and a scheduler must not crash on one object written around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from orchestrator.api.quantity import QuantityError, to_int, to_milli

DEFAULT_MILLI_CPU = 100  # what a container without a cpu request counts as, for scoring
DEFAULT_MEMORY = 200 * 1024 * 1024  # ... and without a memory request
_EMPTY: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    # extended resources, by name
    scalars: Mapping[str, int] = field(default_factory=lambda: _EMPTY)

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.milli_cpu + other.milli_cpu,
            self.memory + other.memory,
            self.ephemeral_storage + other.ephemeral_storage,
            _merge(self.scalars, other.scalars, 1),
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.milli_cpu - other.milli_cpu,
            self.memory - other.memory,
            self.ephemeral_storage - other.ephemeral_storage,
            _merge(self.scalars, other.scalars, -1),
        )

    def max(self, other: Resources) -> Resources:
        names = set(self.scalars) | set(other.scalars)
        return Resources(
            max(self.milli_cpu, other.milli_cpu),
            max(self.memory, other.memory),
            max(self.ephemeral_storage, other.ephemeral_storage),
            _freeze({n: max(self.scalars.get(n, 0), other.scalars.get(n, 0)) for n in names}),
        )

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or self.scalars)


def _freeze(values: dict[str, int]) -> Mapping[str, int]:
    kept = {k: v for k, v in values.items() if v}
    return MappingProxyType(kept) if kept else _EMPTY


def _merge(a: Mapping[str, int], b: Mapping[str, int], sign: int) -> Mapping[str, int]:
    if not b:
        return a
    out = dict(a)
    for name, amount in b.items():
        out[name] = out.get(name, 0) + sign * amount
    return _freeze(out)


def parse_resources(values: Mapping[str, Any] | None) -> Resources:
    """A ``requests``/``allocatable`` map as ``Resources`` (``pods`` is not a resource here)."""
    if not values:
        return Resources()
    cpu = memory = storage = 0
    scalars: dict[str, int] = {}
    for name, quantity in values.items():
        try:
            if name == "cpu":
                cpu = to_milli(quantity)
            elif name == "memory":
                memory = to_int(quantity)
            elif name == "ephemeral-storage":
                storage = to_int(quantity)
            elif name != "pods":
                scalars[name] = to_int(quantity)
        except (QuantityError, TypeError):
            continue
    return Resources(cpu, memory, storage, _freeze(scalars))


def _container_requests(container: Mapping[str, Any]) -> Resources:
    return parse_resources((container.get("resources") or {}).get("requests"))


def _non_zero(requests: Resources) -> Resources:
    return Resources(
        requests.milli_cpu or DEFAULT_MILLI_CPU,
        requests.memory or DEFAULT_MEMORY,
    )


def _combine(
    containers: Iterable[Resources], init_containers: Iterable[tuple[Resources, bool]]
) -> Resources:
    total = Resources()
    for requests in containers:
        total = total + requests
    sidecars = Resources()
    largest_init = Resources()
    for requests, is_sidecar in init_containers:
        if is_sidecar:
            total = total + requests
            sidecars = sidecars + requests
            running = sidecars
        else:
            running = requests + sidecars
        largest_init = largest_init.max(running)
    return total.max(largest_init)


def pod_requests(spec: Mapping[str, Any]) -> tuple[Resources, Resources]:
    """(requests, requests with defaults for scoring) of a pod spec."""
    containers = [_container_requests(c) for c in spec.get("containers") or []]
    inits = [
        (_container_requests(c), c.get("restartPolicy") == "Always")
        for c in spec.get("initContainers") or []
    ]
    overhead = parse_resources(spec.get("overhead"))
    requests = _combine(containers, inits) + overhead
    non_zero = _combine(
        (_non_zero(r) for r in containers), ((_non_zero(r), s) for r, s in inits)
    ) + Resources(overhead.milli_cpu, overhead.memory)
    return requests, Resources(non_zero.milli_cpu, non_zero.memory)

"""The replica calculator: how many pods a resource metric asks for.

Kubernetes' ``ReplicaCalculator`` (pkg/controller/podautoscaler), for the
Resource metrics our metrics API serves (cpu, memory), as pure functions of
the target's pods, their latest usage samples and the clock:

- Pods are grouped first (``group_pods``): deleted or failed pods are
  ignored; pending pods count as unready; pods with no sample are missing;
  for cpu, a pod is unready when it has no Ready condition or start time,
  or, within ``cpu_initialization_period`` of its start, when it is not
  Ready or its sample was taken less than one window after it became Ready
  (the sample may still hold start-up work), or, after that period, when it
  has never been Ready since ``initial_readiness_delay`` after its start.
- Utilization = sum(usage) / sum(requests) over the ready pods with
  samples, in whole percent, against the target percentage: within
  ``tolerance`` of 1.0 nothing changes; else ceil(ratio * ready pods).
- When pods are missing or unready, the ratio is computed again with the
  missing ones at 0% (scale-up) or at 100% of their request, or the target
  if higher (scale-down), and the unready ones at 0% on a scale-up. If that
  reverses the direction, or lands within tolerance, nothing changes.
- AverageValue targets (``raw_replicas``) do the same with the average
  usage per pod against the target quantity; a missing pod then counts as
  using exactly the target on a scale-down.

Values are in thousandths of the unit (millicores, milli-bytes), as
Kubernetes computes them. Errors are ``MetricError`` with Kubernetes'
message, which the controller puts in its conditions and events.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.api.conditions import find_condition
from orchestrator.api.quantity import QuantityError, to_milli
from orchestrator.api.timestamps import parse_time


class MetricError(Exception):
    """A metric could not give a proposal; the message is Kubernetes' own."""


@dataclass(frozen=True)
class PodSample:
    """One pod's usage of one resource, summed over its containers."""

    value: int  # thousandths of the unit: millicores, milli-bytes
    timestamp: datetime
    window: float  # seconds the sample covers


@dataclass(frozen=True)
class CalculatorSettings:
    tolerance: float = 0.1  # Kubernetes' default: changes under 10% are not acted on
    cpu_initialization_period: float = 300.0  # seconds after start when cpu samples are doubtful
    initial_readiness_delay: float = 30.0  # seconds after start when readiness may still flip


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int | None  # whole percent of requests, for Utilization targets
    raw: int  # average usage per pod, thousandths of the unit


@dataclass(frozen=True)
class PodGroups:
    ready: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def group_pods(
    pods: Sequence[Mapping[str, Any]],
    samples: Mapping[str, PodSample],
    resource: str,
    now: datetime,
    settings: CalculatorSettings,
) -> PodGroups:
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        meta, status = _dict(pod.get("metadata")), _dict(pod.get("status"))
        name = str(meta.get("name", ""))
        if meta.get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        sample = samples.get(name)
        if sample is None:
            missing.add(name)
            continue
        if resource == "cpu" and _cpu_unready(status, sample, now, settings):
            unready.add(name)
            continue
        ready += 1
    return PodGroups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_unready(
    status: Mapping[str, Any], sample: PodSample, now: datetime, settings: CalculatorSettings
) -> bool:
    condition = find_condition(status.get("conditions") or [], "Ready")
    started = parse_time(status.get("startTime"))
    if condition is None or started is None:
        return True
    since = parse_time(condition.get("lastTransitionTime")) or started
    if started + timedelta(seconds=settings.cpu_initialization_period) > now:
        return condition.get("status") == "False" or sample.timestamp < since + timedelta(
            seconds=sample.window
        )
    return (
        condition.get("status") == "False"
        and started + timedelta(seconds=settings.initial_readiness_delay) > since
    )


def pod_requests(
    pods: Sequence[Mapping[str, Any]], resource: str, container: str = ""
) -> dict[str, int]:
    """Each pod's summed request of ``resource`` (thousandths).

    A container without one is a MetricError ("missing request for cpu ...").
    """
    out: dict[str, int] = {}
    for pod in pods:
        name = str(_dict(pod.get("metadata")).get("name", ""))
        total = 0
        for spec in _dict(pod.get("spec")).get("containers") or []:
            spec = _dict(spec)
            if container and spec.get("name") != container:
                continue
            request = _dict(_dict(spec.get("resources")).get("requests")).get(resource)
            if request is None:
                raise MetricError(
                    f"missing request for {resource} in container "
                    f"{spec.get('name', '')} of Pod {name}"
                )
            try:
                total += to_milli(request)
            except QuantityError as exc:
                raise MetricError(f"invalid request for {resource} of Pod {name}: {exc}") from None
        out[name] = total
    return out


def utilization_ratio(
    samples: Mapping[str, int], requests: Mapping[str, int], target: int
) -> tuple[float, int, int]:
    """(usage ratio to target, utilization %, average raw usage) over pods with a request."""
    used = requested = entries = 0
    for name, value in samples.items():
        if name not in requests:
            continue  # a sample of a pod not (or no longer) selected
        used += value
        requested += requests[name]
        entries += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // entries


def _within(ratio: float, tolerance: float) -> bool:
    return abs(1.0 - ratio) <= tolerance


def _flipped(old: float, new: float) -> bool:
    return (old < 1.0 < new) or (old > 1.0 > new)


def _check_pods(pods: Sequence[Mapping[str, Any]]) -> None:
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")


def utilization_replicas(
    current: int,
    target: int,
    resource: str,
    pods: Sequence[Mapping[str, Any]],
    samples: Mapping[str, PodSample],
    now: datetime,
    settings: CalculatorSettings,
    container: str = "",
) -> Proposal:
    """Kubernetes' ``GetResourceReplicas``: the replicas for a Utilization target.

    With ``container``, requests are that container's only (ContainerResource).
    """
    groups, values = _measured(pods, samples, resource, now, settings)
    requests = pod_requests(pods, resource, container)
    ratio, utilization, raw = utilization_ratio(values, requests, target)
    up_with_unready = bool(groups.unready) and ratio > 1.0
    if not up_with_unready and not groups.missing:
        if _within(ratio, settings.tolerance):
            return Proposal(current, utilization, raw)
        return Proposal(math.ceil(ratio * groups.ready), utilization, raw)
    if groups.missing:
        if ratio < 1.0:
            fallback = max(100, target)
            for name in groups.missing:
                values[name] = requests[name] * fallback // 100
        elif ratio > 1.0:
            for name in groups.missing:
                values[name] = 0
    if up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_ratio, _, _ = utilization_ratio(values, requests, target)
    replicas = _rebalanced(current, ratio, new_ratio, len(values), settings.tolerance)
    return Proposal(replicas, utilization, raw)


def average_value_replicas(
    current: int,
    target: int,
    resource: str,
    pods: Sequence[Mapping[str, Any]],
    samples: Mapping[str, PodSample],
    now: datetime,
    settings: CalculatorSettings,
) -> Proposal:
    """Kubernetes' ``GetRawResourceReplicas``: the replicas for an AverageValue target."""
    groups, values = _measured(pods, samples, resource, now, settings)
    usage = sum(values.values()) // len(values)
    ratio = usage / target
    up_with_unready = bool(groups.unready) and ratio > 1.0
    if not up_with_unready and not groups.missing:
        if _within(ratio, settings.tolerance):
            return Proposal(current, None, usage)
        return Proposal(math.ceil(ratio * groups.ready), None, usage)
    if groups.missing:
        for name in groups.missing:
            values[name] = target if ratio < 1.0 else 0
    if up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_ratio = (sum(values.values()) / len(values)) / target
    return Proposal(
        _rebalanced(current, ratio, new_ratio, len(values), settings.tolerance), None, usage
    )


def _measured(
    pods: Sequence[Mapping[str, Any]],
    samples: Mapping[str, PodSample],
    resource: str,
    now: datetime,
    settings: CalculatorSettings,
) -> tuple[PodGroups, dict[str, int]]:
    """The pods grouped, and the samples of those that count (not ignored, not unready)."""
    _check_pods(pods)
    groups = group_pods(pods, samples, resource, now, settings)
    values = {
        name: s.value
        for name, s in samples.items()
        if name not in groups.ignored and name not in groups.unready
    }
    if not values:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, values


def _rebalanced(current: int, ratio: float, new_ratio: float, count: int, tolerance: float) -> int:
    """The replicas once missing and unready pods are counted in: ``current`` when that is
    within tolerance, turns the direction around, or would move against ``ratio``."""
    if _within(new_ratio, tolerance) or _flipped(ratio, new_ratio):
        return current
    replicas = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas

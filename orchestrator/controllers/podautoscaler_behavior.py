"""From a metric's proposal to the replica count the autoscaler sets.

Kubernetes' normalization (pkg/controller/podautoscaler/horizontal.go), as
pure functions over the history the controller keeps per HPA in memory
(``History``: recent recommendations and recent scale events; lost on a
restart, as in Kubernetes, which only makes the next decisions less damped):

- with ``spec.behavior`` (``with_behavior``): the proposal is stabilized
  (the lowest recommendation within the scale-up window, the highest within
  the scale-down window, bound the current count from both sides), then
  rate limited by the direction's policies: each policy allows, from the
  count at the start of its period (now minus what was added, plus what was
  removed, within ``periodSeconds``), ``value`` pods or ``value`` percent
  more (rounded up) or fewer (rounded down); ``selectPolicy`` Max takes the
  policy allowing the biggest change, Min the smallest, Disabled none; then
  clamped to min/max replicas.
- without (``legacy``): the highest recommendation within the controller's
  downscale stabilization window, then at most max(2 x current, 4) on a
  scale-up, clamped to min/max replicas.

Each returns the count and the AbleToScale / ScalingLimited conditions'
(status, reason, message) in Kubernetes' words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4


@dataclass
class History:
    """One HPA's recent recommendations and scale events (times from the controller's clock)."""

    recommendations: list[tuple[datetime, int]] = field(default_factory=list)
    scale_ups: list[tuple[datetime, int]] = field(default_factory=list)
    scale_downs: list[tuple[datetime, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    replicas: int
    able: tuple[str, str]  # AbleToScale (reason, message), status True
    limited: tuple[bool, str, str]  # ScalingLimited (status, reason, message)


WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
READY = ("ReadyForNewScale", "recommended size matches current size")
UP_STABILIZED = (
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
)
DOWN_STABILIZED = (
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent "
    "recommendation",
)
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
UP_LIMIT = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
)
DOWN_LIMIT = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
)


def _rules(behavior: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = behavior.get(key)
    return value if isinstance(value, Mapping) else {}


def _record(history: History, now: datetime, desired: int, keep: float) -> None:
    cutoff = now - timedelta(seconds=keep)
    history.recommendations = [r for r in history.recommendations if r[0] > cutoff]
    history.recommendations.append((now, desired))


def with_behavior(
    behavior: Mapping[str, Any],
    history: History,
    now: datetime,
    *,
    current: int,
    desired: int,
    low: int,
    high: int,
    default_down_window: float,
) -> Decision:
    up, down = _rules(behavior, "scaleUp"), _rules(behavior, "scaleDown")
    up_window = float(up.get("stabilizationWindowSeconds") or 0)
    down_value = down.get("stabilizationWindowSeconds")
    down_window = float(default_down_window if down_value is None else down_value)
    up_cut, down_cut = now - timedelta(seconds=up_window), now - timedelta(seconds=down_window)
    up_rec = down_rec = desired
    for stamp, value in history.recommendations:
        if stamp > up_cut:
            up_rec = min(up_rec, value)
        if stamp > down_cut:
            down_rec = max(down_rec, value)
    stabilized = min(max(current, up_rec), down_rec)
    _record(history, now, desired, max(up_window, down_window))
    if stabilized != desired:
        able = UP_STABILIZED if desired >= current else DOWN_STABILIZED
    else:
        able = READY
    replicas, (reason, message) = _rate_limit(
        up, down, history, now, current, stabilized, low, high
    )
    return Decision(replicas, able, (replicas != stabilized, reason, message))


def _changed_within(events: list[tuple[datetime, int]], now: datetime, period: float) -> int:
    cutoff = now - timedelta(seconds=period)
    return sum(change for stamp, change in events if stamp > cutoff)


def _policy_limit(
    rules: Mapping[str, Any], history: History, now: datetime, current: int, up: bool
) -> int:
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = (
            current
            - _changed_within(history.scale_ups, now, period)
            + _changed_within(history.scale_downs, now, period)
        )
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start + value if up else start - value)
        elif up:
            proposals.append(math.ceil(start * (1 + value / 100)))
        else:
            proposals.append(int(start * (1 - value / 100)))
    if not proposals:
        return current
    # Max means the biggest change: the highest limit up, the lowest limit down.
    biggest = (select != "Min") == up
    return max(proposals) if biggest else min(proposals)


def _rate_limit(
    up: Mapping[str, Any],
    down: Mapping[str, Any],
    history: History,
    now: datetime,
    current: int,
    desired: int,
    low: int,
    high: int,
) -> tuple[int, tuple[str, str]]:
    if desired > current:
        limit = max(_policy_limit(up, history, now, current, True), current)
        allowed, why = (limit, UP_LIMIT) if high > limit else (high, TOO_MANY)
        if desired > allowed:
            return allowed, why
    elif desired < current:
        limit = min(_policy_limit(down, history, now, current, False), current)
        allowed, why = (limit, DOWN_LIMIT) if low < limit else (low, TOO_FEW)
        if desired < allowed:
            return allowed, why
    return desired, WITHIN_RANGE


def legacy(
    history: History,
    now: datetime,
    *,
    current: int,
    desired: int,
    low: int,
    high: int,
    down_window: float,
) -> Decision:
    cutoff = now - timedelta(seconds=down_window)
    stabilized = max([desired, *(v for stamp, v in history.recommendations if stamp > cutoff)])
    _record(history, now, desired, down_window)
    able = DOWN_STABILIZED if stabilized != desired else READY
    up_limit = max(int(SCALE_UP_LIMIT_FACTOR * current), SCALE_UP_LIMIT_MINIMUM)
    ceiling, why = (up_limit, UP_LIMIT) if high > up_limit else (high, TOO_MANY)
    if stabilized < low:
        replicas, (reason, message) = low, TOO_FEW
    elif stabilized > ceiling:
        replicas, (reason, message) = ceiling, why
    else:
        replicas, (reason, message) = stabilized, WITHIN_RANGE
    return Decision(replicas, able, (replicas != stabilized, reason, message))


def record_scale(history: History, now: datetime, before: int, after: int, keep: float) -> None:
    """Remember a rescale for the rate limits (events older than ``keep`` seconds go)."""
    cutoff = now - timedelta(seconds=keep)
    history.scale_ups = [e for e in history.scale_ups if e[0] > cutoff]
    history.scale_downs = [e for e in history.scale_downs if e[0] > cutoff]
    if after > before:
        history.scale_ups.append((now, after - before))
    elif after < before:
        history.scale_downs.append((now, before - after))

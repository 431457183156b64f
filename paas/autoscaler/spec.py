"""What one revision asks of the autoscaler: its annotations over the cluster's defaults.

Read from the Revision (``spec.containerConcurrency`` and the annotations
``autoscaling.knative.dev/<key>`` of its metadata, Knative's camelCase
aliases too: the keys and Go's number and duration forms are
``paas.serving.autoscaling``'s, which the serving webhook validates with).
The webhook has refused invalid values at write time; a value that is
still unreadable (an object written before the webhook ran) falls back to
the default instead of stopping the autoscaler.

Per-pod target (Knative's ``resources/target.go``): for concurrency, the
total is ``containerConcurrency`` when set, else the cluster's 100; a
``target`` annotation replaces it, capped at ``containerConcurrency``; for
rps the total is 200 or the annotation. The target the decision divides by
is that total times the utilisation (70%), at least 0.01.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from paas.autoscaler.settings import AutoscalerSettings
from paas.serving import autoscaling as keys

T = TypeVar("T")


@dataclass(frozen=True)
class ScalingSpec:
    metric: str = "concurrency"  # or "rps"
    target: float = 70.0  # per pod, utilisation applied: what one pod should carry
    total: float = 100.0  # per pod capacity before utilisation (for panic and burst maths)
    container_concurrency: int = 0  # hard limit per pod, 0: none
    min_scale: int = 0
    max_scale: int = 0  # 0: unbounded
    initial_scale: int = 1
    activation_scale: int = 1
    stable_window: float = 60.0
    panic_window: float = 6.0
    panic_threshold: float = 2.0  # a ratio: 200% -> 2.0
    scale_down_delay: float = 0.0
    retention: float = 0.0  # scale-to-zero-pod-retention-period

    def clamp(self, desired: int) -> int:
        """``desired`` within [min_scale, max_scale]."""
        if self.max_scale > 0:
            desired = min(desired, self.max_scale)
        return max(desired, self.min_scale)


def _read(
    notes: Mapping[str, str], names: tuple[str, ...], parse: Callable[[str], T], default: T
) -> T:
    """The annotation under the first of ``names`` present, parsed; ``default`` if unreadable."""
    found = keys.get(notes, names)
    if found is None:
        return default
    try:
        return parse(found[1])
    except ValueError:
        return default


def _at_least(low: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = keys.parse_float(text)
        if not (math.isfinite(value) and value >= low):
            raise ValueError(text)
        return value

    return parse


def _count(text: str) -> int:
    value = keys.parse_int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _seconds(text: str) -> float:
    value = keys.parse_duration(text)
    if value < 0:
        raise ValueError(text)
    return value


def scaling_spec(revision: Mapping[str, Any], settings: AutoscalerSettings) -> ScalingSpec:
    """The ScalingSpec of a Revision object."""
    notes = (revision.get("metadata") or {}).get("annotations") or {}
    cc = int((revision.get("spec") or {}).get("containerConcurrency") or 0)
    metric = _read(notes, keys.METRIC, str, "concurrency")
    if metric == "rps":
        total = _read(notes, keys.TARGET, _at_least(0.01), settings.target_rps)
    else:
        metric = "concurrency"
        total = float(cc) if cc > 0 else settings.target_concurrency
        total = _read(notes, keys.TARGET, _at_least(0.01), total)
        if cc > 0:
            total = min(total, float(cc))
    utilisation = _read(
        notes, keys.TARGET_UTILIZATION, _at_least(1), settings.target_utilization_percentage
    )
    stable = _read(notes, keys.WINDOW, _seconds, settings.stable_window)
    panic_pct = _read(notes, keys.PANIC_WINDOW, _at_least(1), settings.panic_window_percentage)
    threshold = _read(
        notes, keys.PANIC_THRESHOLD, _at_least(1), settings.panic_threshold_percentage
    )
    return ScalingSpec(
        metric=metric,
        target=max(0.01, total * utilisation / 100.0),
        total=total,
        container_concurrency=cc,
        min_scale=_read(notes, keys.MIN_SCALE, _count, settings.min_scale),
        max_scale=_read(notes, keys.MAX_SCALE, _count, settings.max_scale),
        initial_scale=_read(notes, keys.INITIAL_SCALE, _count, settings.initial_scale),
        activation_scale=max(1, _read(notes, keys.ACTIVATION_SCALE, _count, 1)),
        stable_window=stable,
        panic_window=max(1.0, round(stable * panic_pct / 100.0)),
        panic_threshold=threshold / 100.0,
        scale_down_delay=_read(notes, keys.SCALE_DOWN_DELAY, _seconds, 0.0),
        retention=_read(notes, keys.RETENTION, _seconds, 0.0),
    )

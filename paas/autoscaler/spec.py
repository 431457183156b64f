"""What one revision asks of the autoscaler: its annotations over the cluster's defaults.

Read from the Revision (``spec.containerConcurrency`` and the annotations
``autoscaling.knative.dev/<key>`` of its metadata, Knative's camelCase
aliases ``minScale``/``maxScale``/``initialScale`` too). The serving
webhook has refused invalid values at write time; a value that is still
unreadable (an object written before the webhook ran) falls back to the
default instead of stopping the autoscaler.

Per-pod target (Knative's ``resources/target.go``): for concurrency, the
total is ``containerConcurrency`` when set, else the cluster's 100; a
``target`` annotation replaces it, capped at ``containerConcurrency``; for
rps the total is 200 or the annotation. The target the decision divides by
is that total times the utilisation (70%), at least 0.01.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paas.autoscaler.settings import AutoscalerSettings

PREFIX = "autoscaling.knative.dev/"
ALIASES = {"minScale": "min-scale", "maxScale": "max-scale", "initialScale": "initial-scale"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration (``60s``, ``1m30s``, ``500ms``); None if it is not one."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0 if text == "0" else None
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


def autoscaling_annotations(meta: Mapping[str, Any]) -> dict[str, str]:
    """``autoscaling.knative.dev/*`` of ``meta`` by short key, aliases resolved."""
    found: dict[str, str] = {}
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith(PREFIX) and isinstance(value, str):
            short = key[len(PREFIX) :]
            found[ALIASES.get(short, short)] = value
    return found


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


def _number(raw: str | None, default: float, *, low: float = -math.inf) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= low else default


def _integer(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value >= 0 else default


def _seconds(raw: str | None, default: float) -> float:
    value = parse_duration(raw) if raw is not None else None
    return default if value is None else value


def scaling_spec(revision: Mapping[str, Any], settings: AutoscalerSettings) -> ScalingSpec:
    """The ScalingSpec of a Revision object."""
    meta = revision.get("metadata") or {}
    notes = autoscaling_annotations(meta)
    cc = int((revision.get("spec") or {}).get("containerConcurrency") or 0)
    metric = notes.get("metric", "concurrency")
    if metric == "rps":
        total = _number(notes.get("target"), settings.target_rps, low=0.01)
    else:
        metric = "concurrency"
        total = float(cc) if cc > 0 else settings.target_concurrency
        if "target" in notes:
            total = _number(notes.get("target"), total, low=0.01)
            if cc > 0:
                total = min(total, float(cc))
    utilisation = _number(
        notes.get("target-utilization-percentage"), settings.target_utilization_percentage
    )
    stable = _seconds(notes.get("window"), settings.stable_window)
    panic_pct = _number(notes.get("panic-window-percentage"), settings.panic_window_percentage)
    return ScalingSpec(
        metric=metric,
        target=max(0.01, total * utilisation / 100.0),
        total=total,
        container_concurrency=cc,
        min_scale=_integer(notes.get("min-scale"), settings.min_scale),
        max_scale=_integer(notes.get("max-scale"), settings.max_scale),
        initial_scale=_integer(notes.get("initial-scale"), settings.initial_scale),
        activation_scale=max(1, _integer(notes.get("activation-scale"), 1)),
        stable_window=stable,
        panic_window=max(1.0, round(stable * panic_pct / 100.0)),
        panic_threshold=_number(
            notes.get("panic-threshold-percentage"), settings.panic_threshold_percentage
        )
        / 100.0,
        scale_down_delay=_seconds(notes.get("scale-down-delay"), 0.0),
        retention=_seconds(notes.get("scale-to-zero-pod-retention-period"), 0.0),
    )

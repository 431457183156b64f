"""The KPA decision: how many pods a revision wants, from its observed load.

Knative's algorithm (``pkg/autoscaler/scaling/autoscaler.go``), as a pure
step over a small state kept per revision:

1. ``ready`` is at least 1. One step may scale up to ``ceil(ready x
   max_scale_up_rate)`` and down to ``floor(ready / max_scale_down_rate)``
   (to 0 at once when the revision is not routed).
2. The stable and panic averages, divided by the per-pod target and
   rounded up, give two pod counts (raised to ``activation-scale`` when
   positive and below it), each clamped to those step bounds.
3. Panic starts, or is renewed, when the panic count before clamping is
   ``panic_threshold`` times the ready pods or more; it ends one stable
   window after the last tick over the threshold. In panic the result is
   the larger of the two counts and never goes down.
4. With ``scale-down-delay``, the result is the largest one decided within
   that delay (while routed), so a dip does not remove pods at once.

A new instance that finds several pods ready starts in panic, holding
them: it has no history yet, and a restart must not look like a lull.
The bounds (min/max scale, initial scale, scale to zero) come after this,
in ``paas.autoscaler.zero``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from paas.autoscaler.spec import ScalingSpec


@dataclass
class KPAState:
    fresh: bool = True  # no decision made yet by this instance
    panic_until: float | None = None  # when panic ends unless renewed
    panic_max: int = 0  # the highest count decided in this panic
    recent: deque[tuple[float, int]] = field(default_factory=deque)  # for scale-down-delay


@dataclass(frozen=True)
class Decision:
    desired: int
    panicking: bool
    stable: float  # the observed averages this decision used
    panic: float

    def describe(self, spec: ScalingSpec) -> str:
        mode = "panic" if self.panicking else "stable"
        return (
            f"{self.desired} pods for {self.stable:.2f} concurrent (stable) / {self.panic:.2f} "
            f"(panic), target {spec.target:.2f} per pod, {mode} mode"
        )


def _pods_for(value: float, spec: ScalingSpec) -> int:
    raw = math.ceil(value / spec.target) if value > 0 else 0
    if 0 < raw < spec.activation_scale:
        raw = spec.activation_scale
    return raw


def decide(
    state: KPAState,
    spec: ScalingSpec,
    *,
    now: float,
    stable: float,
    panic: float,
    ready_pods: int,
    routed: bool,
    max_scale_up_rate: float,
    max_scale_down_rate: float,
) -> Decision:
    """One tick's pod count for a revision; updates ``state``."""
    ready = max(1, ready_pods)
    if state.fresh:
        state.fresh = False
        if ready_pods > 1:
            state.panic_until, state.panic_max = now + spec.stable_window, ready_pods
    max_up = math.ceil(max_scale_up_rate * ready)
    max_down = math.floor(ready / max_scale_down_rate) if routed else 0
    raw_stable, raw_panic = _pods_for(stable, spec), _pods_for(panic, spec)
    desired_stable = min(max(raw_stable, max_down), max_up)
    desired_panic = min(max(raw_panic, max_down), max_up)
    if raw_panic / ready >= spec.panic_threshold:
        state.panic_until = now + spec.stable_window
    if state.panic_until is not None and now >= state.panic_until:
        state.panic_until, state.panic_max = None, 0
    panicking = state.panic_until is not None
    if panicking:
        desired = max(desired_stable, desired_panic, state.panic_max)
        state.panic_max = desired
    else:
        desired = desired_stable
    if spec.scale_down_delay > 0 and routed:
        state.recent.append((now, desired))
        while state.recent and state.recent[0][0] <= now - spec.scale_down_delay:
            state.recent.popleft()
        desired = max(d for _, d in state.recent)
    return Decision(desired, panicking, stable, panic)

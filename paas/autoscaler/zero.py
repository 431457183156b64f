"""From a KPA decision to the replicas a revision's Deployment gets: bounds and zero.

After ``kpa.decide`` (Knative's PodAutoscaler reconciler and its scaler):

1. The count is clamped to ``[min-scale, max-scale]``; min-scale binds
   only while the revision is routed (a revision no route sends traffic to
   goes to zero whatever its min-scale). While routed and before the
   revision has once had ``initial-scale`` pods ready (``initialized``:
   its Ready condition was True once, which survives restarts of this
   process), that is the floor: a new revision is not scaled away before
   it has served.
2. A 0 with scale to zero turned off cluster-wide becomes 1.
3. A 0 while pods run starts the idle clock once the revision has had a
   ready pod for a stable window (Knative keeps a PodAutoscaler Active
   that long): the last pod stays for
   ``max(scale_to_zero_grace_period, scale-to-zero-pod-retention-period)``
   after that, then goes. The router holds requests for a revision
   with no pod (it is always the activator here, so Knative's switch of the
   data path to the activator has nothing to wait for; the grace keeps the
   timing users know: pods go 60-90 s after the last request by default).
4. Pods wanted but none ready for longer than ``activation_timeout``
   (a wake-up that cannot succeed: image missing, app crashing) scales
   back to zero, so a broken revision does not hold pods forever; the
   next request tries again.
"""

from __future__ import annotations

from dataclasses import dataclass

from paas.autoscaler.settings import AutoscalerSettings
from paas.autoscaler.spec import ScalingSpec


@dataclass
class ZeroState:
    idle_since: float | None = None  # when the decision first went to 0 with pods running
    waking_since: float | None = None  # when pods were first wanted with none ready
    ready_since: float | None = None  # when this instance first saw a ready pod (None: none)
    reached_initial: bool = False  # initial-scale pods were ready once


@dataclass(frozen=True)
class Scale:
    replicas: int
    reason: str  # a word for status and events
    message: str = ""


def bound(
    state: ZeroState,
    spec: ScalingSpec,
    settings: AutoscalerSettings,
    *,
    desired: int,
    current: int,
    ready_pods: int,
    routed: bool,
    now: float,
    initialized: bool = False,
) -> Scale:
    """The replicas to set for a revision whose KPA decision is ``desired``."""
    if ready_pods >= max(1, spec.initial_scale) or initialized:
        state.reached_initial = True
    if ready_pods == 0:
        state.ready_since = None
    elif state.ready_since is None:
        state.ready_since = now
    floor = spec.min_scale if routed else 0
    if routed and not state.reached_initial:
        floor = max(floor, spec.initial_scale)
    wanted = max(desired, floor)
    if spec.max_scale > 0:
        wanted = min(wanted, spec.max_scale)
    if wanted == 0 and not settings.enable_scale_to_zero:
        wanted = 1
    if wanted > 0:
        state.idle_since = None
        if ready_pods > 0:
            state.waking_since = None
            return Scale(wanted, "Active")
        if state.waking_since is None:
            state.waking_since = now
        if now - state.waking_since > settings.activation_timeout:
            state.waking_since = None
            return Scale(
                0,
                "TimedOut",
                f"no pod became ready within {settings.activation_timeout:.0f}s of waking",
            )
        return Scale(wanted, "Activating")
    state.waking_since = None
    if current == 0:
        state.idle_since = None
        return Scale(0, "NoTraffic")
    if routed and (state.ready_since is None or now - state.ready_since < spec.stable_window):
        return Scale(1, "Idle", "no traffic; kept for a stable window after it became ready")
    if state.idle_since is None:
        state.idle_since = now
    hold = max(settings.scale_to_zero_grace_period, spec.retention)
    if now - state.idle_since < hold:
        return Scale(1, "Idle", f"no traffic; the last pod stays {hold:.0f}s")
    return Scale(0, "NoTraffic", "scaled to zero: no traffic")

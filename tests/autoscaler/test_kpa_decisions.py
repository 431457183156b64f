"""The autoscaler's pure parts as tables: the revision's spec, windows, KPA, bounds and zero."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.timestamps import parse_duration
from paas.autoscaler.kpa import KPAState, decide
from paas.autoscaler.observed import Observed, parse_reading
from paas.autoscaler.settings import AutoscalerSettings
from paas.autoscaler.spec import ScalingSpec, scaling_spec
from paas.autoscaler.window import Buckets
from paas.autoscaler.zero import ZeroState, bound

S = AutoscalerSettings()


def revision(cc: int = 0, **annotations: str) -> dict[str, Any]:
    notes = {f"autoscaling.knative.dev/{k.replace('_', '-')}": v for k, v in annotations.items()}
    return {"metadata": {"annotations": notes}, "spec": {"containerConcurrency": cc}}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), ("0", 0.0), ("-5s", -5.0)],
)
def test_durations_read_as_go_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["6", "s", "1m 30s", ""])
def test_what_go_would_not_read_as_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("rev", "target", "total"),
    [
        (revision(), 70.0, 100.0),  # nothing said: 100 per pod at 70%
        (revision(cc=10), 7.0, 10.0),  # containerConcurrency is the capacity
        (revision(cc=10, target="50"), 7.0, 10.0),  # a target cannot exceed it
        (revision(target="20"), 14.0, 20.0),
        (revision(target="20", target_utilization_percentage="100"), 20.0, 20.0),
        (revision(metric="rps"), 140.0, 200.0),
        (revision(target="0.001"), 70.0, 100.0),  # unreadable after all: the default
    ],
)
def test_the_per_pod_target_follows_knative(
    rev: dict[str, Any], target: float, total: float
) -> None:
    spec = scaling_spec(rev, S)
    assert (spec.target, spec.total) == pytest.approx((target, total))


def test_windows_bounds_and_aliases_come_from_the_annotations() -> None:
    rev = revision(window="20s", panic_window_percentage="20", scale_down_delay="1m")
    rev["metadata"]["annotations"]["autoscaling.knative.dev/minScale"] = "2"
    rev["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"] = "5"
    spec = scaling_spec(rev, S)
    assert (spec.stable_window, spec.panic_window, spec.scale_down_delay) == (20.0, 4.0, 60.0)
    assert (spec.min_scale, spec.max_scale, spec.initial_scale) == (2, 5, 1)
    assert scaling_spec(revision(window="6s"), S).panic_window == 1.0  # at least a second


def test_an_idle_windows_average_decays_to_zero() -> None:
    b = Buckets()
    b.record(100.2, 4.0)
    b.record(100.7, 2.0)  # same second: averaged
    assert b.average(100.9, 60) == 3.0  # data younger than the window: its own span
    assert b.average(105.0, 60) == pytest.approx(3.0 / 6)
    assert b.average(161.0, 60) == 0.0
    assert Buckets().average(5.0, 60) == 0.0


def run(
    spec: ScalingSpec,
    state: KPAState,
    now: float,
    stable: float,
    panic: float,
    ready: int,
    routed: bool = True,
) -> tuple[int, bool]:
    d = decide(
        state,
        spec,
        now=now,
        stable=stable,
        panic=panic,
        ready_pods=ready,
        routed=routed,
        max_scale_up_rate=S.max_scale_up_rate,
        max_scale_down_rate=S.max_scale_down_rate,
    )
    return d.desired, d.panicking


@pytest.mark.parametrize(
    ("stable", "ready", "routed", "desired"),
    [
        (140.0, 1, True, 2),  # 140 concurrent at 70 a pod
        (0.5, 1, True, 1),  # any load needs a pod
        (0.0, 1, True, 0),
        (0.0, 4, True, 2),  # at most halve in one step
        (0.0, 4, False, 0),  # not routed: straight down
        (7000.0, 1, True, 100),
    ],
)
def test_stable_decisions(stable: float, ready: int, routed: bool, desired: int) -> None:
    spec = ScalingSpec()
    state = KPAState(fresh=False)
    assert run(spec, state, 0.0, stable, 0.0, ready, routed) == (desired, False)


def test_panic_starts_over_the_threshold_never_scales_down_and_ends_a_window_later() -> None:
    spec = ScalingSpec(stable_window=60.0)
    state = KPAState(fresh=False)
    assert run(spec, state, 0.0, 10.0, 700.0, 1) == (10, True)  # 10 pods wanted by 1: panic
    assert run(spec, state, 2.0, 20.0, 0.0, 10) == (10, True)  # calm, but panic holds
    assert run(spec, state, 59.0, 20.0, 0.0, 10) == (10, True)
    assert run(spec, state, 60.0, 20.0, 0.0, 10) == (5, False)  # over: halve at most


def test_a_new_instance_holds_the_pods_it_finds() -> None:
    spec = ScalingSpec()
    assert run(spec, KPAState(), 0.0, 0.0, 0.0, 3) == (3, True)
    assert run(spec, KPAState(), 0.0, 0.0, 0.0, 1) == (0, False)


def test_scale_down_delay_keeps_the_highest_recent_decision() -> None:
    spec = ScalingSpec(scale_down_delay=10.0)
    state = KPAState(fresh=False)
    assert run(spec, state, 0.0, 350.0, 350.0, 5)[0] == 5
    assert run(spec, state, 5.0, 70.0, 70.0, 5)[0] == 5
    assert run(spec, state, 10.5, 70.0, 70.0, 5)[0] == 2  # the 5 is older than the delay


def test_activation_scale_raises_a_small_positive_count() -> None:
    spec = ScalingSpec(activation_scale=3)
    assert run(spec, KPAState(fresh=False), 0.0, 1.0, 1.0, 1)[0] == 3


def scale(
    spec: ScalingSpec,
    state: ZeroState,
    *,
    desired: int,
    current: int,
    ready: int,
    now: float,
    routed: bool = True,
    settings: AutoscalerSettings = S,
    initialized: bool = False,
) -> tuple[int, str]:
    s = bound(
        state,
        spec,
        settings,
        desired=desired,
        current=current,
        ready_pods=ready,
        routed=routed,
        now=now,
        initialized=initialized,
    )
    return s.replicas, s.reason


def test_the_last_pod_stays_a_stable_window_and_the_grace_period_then_goes() -> None:
    spec, state = ScalingSpec(stable_window=60.0), ZeroState()
    idle = {"desired": 0, "current": 1, "ready": 1}
    assert scale(spec, state, now=0.0, **idle) == (1, "Idle")  # ready since 0
    assert scale(spec, state, now=59.0, **idle) == (1, "Idle")  # a stable window not over
    assert scale(spec, state, now=60.0, **idle) == (1, "Idle")  # the grace starts
    assert scale(spec, state, now=89.0, **idle) == (1, "Idle")
    assert scale(spec, state, now=90.0, **idle) == (0, "NoTraffic")
    assert scale(spec, state, desired=0, current=0, ready=0, now=91.0) == (0, "NoTraffic")


def test_retention_longer_than_the_grace_keeps_the_pod_longer() -> None:
    spec, state = ScalingSpec(stable_window=10.0, retention=120.0), ZeroState()
    idle = {"desired": 0, "current": 1, "ready": 1}
    scale(spec, state, now=0.0, **idle)
    assert scale(spec, state, now=10.0, **idle)[0] == 1
    assert scale(spec, state, now=129.0, **idle)[0] == 1
    assert scale(spec, state, now=130.0, **idle)[0] == 0


def test_a_revision_never_ready_is_held_at_its_initial_scale_until_it_serves() -> None:
    spec, state = ScalingSpec(stable_window=6.0), ZeroState()
    assert scale(spec, state, desired=0, current=1, ready=0, now=0.0) == (1, "Activating")
    assert scale(spec, state, desired=0, current=1, ready=0, now=50.0) == (1, "Activating")
    restarted = ZeroState()  # a new autoscaler: the Revision's Ready condition says it served
    got = scale(spec, restarted, desired=0, current=0, ready=0, now=0.0, initialized=True)
    assert got == (0, "NoTraffic")


def test_traffic_resets_the_idle_clock() -> None:
    spec, state = ScalingSpec(stable_window=10.0), ZeroState()
    scale(spec, state, desired=0, current=1, ready=1, now=0.0)
    assert scale(spec, state, desired=1, current=1, ready=1, now=20.0) == (1, "Active")
    assert scale(spec, state, desired=0, current=1, ready=1, now=40.0) == (1, "Idle")
    assert scale(spec, state, desired=0, current=1, ready=1, now=69.0) == (1, "Idle")


@pytest.mark.parametrize(
    ("spec", "routed", "settings", "replicas"),
    [
        (ScalingSpec(min_scale=2), True, S, 2),
        (ScalingSpec(min_scale=2), False, S, 0),  # min-scale binds only while routed
        (ScalingSpec(), True, AutoscalerSettings(enable_scale_to_zero=False), 1),
        (ScalingSpec(initial_scale=3), True, S, 3),  # until 3 were once ready
    ],
)
def test_bounds(
    spec: ScalingSpec, routed: bool, settings: AutoscalerSettings, replicas: int
) -> None:
    got = scale(
        spec, ZeroState(), desired=0, current=0, ready=0, now=0.0, routed=routed, settings=settings
    )
    assert got[0] == replicas


def test_max_scale_caps_and_initial_scale_stops_binding_once_reached() -> None:
    assert (
        scale(ScalingSpec(max_scale=4), ZeroState(), desired=9, current=2, ready=2, now=0.0)[0] == 4
    )
    spec, state = ScalingSpec(initial_scale=3), ZeroState()
    assert scale(spec, state, desired=1, current=3, ready=2, now=0.0)[0] == 3  # not reached yet
    assert scale(spec, state, desired=1, current=3, ready=3, now=2.0)[0] == 1  # reached


def test_a_wake_up_that_never_gets_a_ready_pod_gives_up() -> None:
    spec, state = ScalingSpec(), ZeroState()
    settings = AutoscalerSettings(activation_timeout=30.0)
    args = {"desired": 1, "current": 1, "ready": 0, "settings": settings}
    assert scale(spec, state, now=0.0, **args) == (1, "Activating")
    assert scale(spec, state, now=30.0, **args) == (1, "Activating")
    assert scale(spec, state, now=31.0, **args) == (0, "TimedOut")


def reading(**by_service: tuple[float, float]) -> str:
    lines = ["# TYPE paas_router_concurrency_seconds_total counter"]
    for svc, (seconds, _) in by_service.items():
        lines.append(
            f'paas_router_concurrency_seconds_total{{namespace="ns",service="{svc}"}} {seconds}'
        )
    lines.append("# TYPE paas_router_held gauge")
    for svc, (_, held) in by_service.items():
        lines.append(f'paas_router_held{{namespace="ns",service="{svc}"}} {held}')
    return "\n".join(lines) + "\n"


def test_router_counters_become_average_concurrency_summed_over_routers() -> None:
    seen = Observed()
    first = {"r1": parse_reading(reading(a=(10.0, 0))), "r2": parse_reading(reading(a=(4.0, 1)))}
    assert seen.take(first, 100.0) == {}  # base lines only
    later = {"r1": parse_reading(reading(a=(13.0, 0))), "r2": parse_reading(reading(a=(5.0, 2)))}
    assert seen.take(later, 102.0) == {("ns", "a"): pytest.approx(2.0)}  # (3 + 1) / 2 s
    assert seen.held() == {("ns", "a"): 2.0}
    restarted = {"r1": parse_reading(reading(a=(1.0, 0)))}  # r1's counter went back: restarted
    assert seen.take(restarted, 103.0) == {("ns", "a"): pytest.approx(1.0)}
    seen.forget({"r1"})
    assert seen.held() == {("ns", "a"): 0.0}  # r2 and its two held requests are gone

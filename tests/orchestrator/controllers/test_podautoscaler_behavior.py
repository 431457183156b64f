"""Stabilization and rate limits of the autoscaler, as Kubernetes' controller decides them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.api.autoscaling.defaults import SCALE_DOWN_RULES, SCALE_UP_RULES
from orchestrator.controllers.podautoscaler_behavior import (
    History,
    legacy,
    record_scale,
    with_behavior,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
DEFAULTS = {
    "scaleUp": SCALE_UP_RULES,
    "scaleDown": {**SCALE_DOWN_RULES, "stabilizationWindowSeconds": 0},
}


def rules(select: str, *policies: tuple[str, int, int], window: int = 0) -> dict:
    return {
        "stabilizationWindowSeconds": window,
        "selectPolicy": select,
        "policies": [{"type": t, "value": v, "periodSeconds": p} for t, v, p in policies],
    }


def decide(
    behavior: dict,
    current: int,
    desired: int,
    history: History | None = None,
    low: int = 1,
    high: int = 100,
) -> tuple[int, str, bool]:
    d = with_behavior(
        behavior,
        history or History(),
        NOW,
        current=current,
        desired=desired,
        low=low,
        high=high,
        default_down_window=300,
    )
    return d.replicas, d.limited[1], d.limited[0]


@pytest.mark.parametrize(
    ("up", "current", "desired", "expected", "reason"),
    [
        # the defaults: double or +4 per 15 s, whichever is more
        (SCALE_UP_RULES, 4, 20, 8, "ScaleUpLimit"),
        (SCALE_UP_RULES, 1, 20, 5, "ScaleUpLimit"),
        (rules("Max", ("Pods", 2, 60), ("Percent", 10, 60)), 4, 20, 6, "ScaleUpLimit"),
        (rules("Min", ("Pods", 2, 60), ("Percent", 10, 60)), 4, 20, 5, "ScaleUpLimit"),
        (rules("Disabled", ("Pods", 2, 60)), 4, 20, 4, "ScaleUpLimit"),
        (SCALE_UP_RULES, 4, 6, 6, "DesiredWithinRange"),
    ],
)
def test_scale_up_is_limited_by_the_selected_policy(
    up: dict, current: int, desired: int, expected: int, reason: str
) -> None:
    replicas, why, limited = decide(
        {"scaleUp": up, "scaleDown": DEFAULTS["scaleDown"]}, current, desired
    )
    assert (replicas, why, limited) == (expected, reason, expected != desired)


@pytest.mark.parametrize(
    ("down", "current", "desired", "expected", "reason"),
    [
        (rules("Max", ("Percent", 100, 15)), 10, 3, 3, "DesiredWithinRange"),
        (rules("Max", ("Pods", 2, 60), ("Percent", 50, 60)), 10, 1, 5, "ScaleDownLimit"),
        (rules("Min", ("Pods", 2, 60), ("Percent", 50, 60)), 10, 1, 8, "ScaleDownLimit"),
        (rules("Max", ("Percent", 100, 15)), 10, 0, 2, "TooFewReplicas"),
    ],
)
def test_scale_down_is_limited_by_the_selected_policy(
    down: dict, current: int, desired: int, expected: int, reason: str
) -> None:
    replicas, why, _ = decide(
        {"scaleUp": SCALE_UP_RULES, "scaleDown": down}, current, desired, low=2
    )
    assert (replicas, why) == (expected, reason)


def test_a_period_counts_from_the_replicas_it_started_with() -> None:
    history = History()
    record_scale(history, NOW - timedelta(seconds=10), 4, 6, 1800)  # +2 ten seconds ago
    behavior = {"scaleUp": rules("Max", ("Pods", 4, 15)), "scaleDown": DEFAULTS["scaleDown"]}
    assert decide(behavior, 6, 20, history)[0] == 8  # 4 at the period's start, + 4
    later = with_behavior(
        behavior,
        history,
        NOW + timedelta(seconds=10),
        current=6,
        desired=20,
        low=1,
        high=100,
        default_down_window=0,
    )
    assert later.replicas == 10  # the +2 has left the 15 s period


def test_scale_down_keeps_the_highest_recommendation_of_its_window() -> None:
    history = History(
        recommendations=[(NOW - timedelta(seconds=20), 5), (NOW - timedelta(seconds=5), 3)]
    )
    behavior = {
        "scaleUp": SCALE_UP_RULES,
        "scaleDown": rules("Max", ("Percent", 100, 15), window=30),
    }
    d = with_behavior(
        behavior, history, NOW, current=5, desired=2, low=1, high=10, default_down_window=300
    )
    assert d.replicas == 5 and d.able[0] == "ScaleDownStabilized"
    d = with_behavior(
        behavior,
        history,
        NOW + timedelta(seconds=20),
        current=5,
        desired=2,
        low=1,
        high=10,
        default_down_window=300,
    )
    assert d.replicas == 3  # the 5 has left the window; the 3 has not


def test_scale_up_keeps_the_lowest_recommendation_of_its_window() -> None:
    history = History(recommendations=[(NOW - timedelta(seconds=5), 2)])
    behavior = {
        "scaleUp": rules("Max", ("Percent", 100, 15), window=60),
        "scaleDown": DEFAULTS["scaleDown"],
    }
    d = with_behavior(
        behavior, history, NOW, current=2, desired=6, low=1, high=10, default_down_window=300
    )
    assert d.replicas == 2 and d.able[0] == "ScaleUpStabilized"


@pytest.mark.parametrize(
    ("current", "desired", "low", "high", "expected", "reason"),
    [
        (1, 10, 1, 20, 4, "ScaleUpLimit"),  # at most max(2 x current, 4)
        (3, 10, 1, 20, 6, "ScaleUpLimit"),
        (3, 10, 1, 5, 5, "TooManyReplicas"),
        (3, 0, 2, 5, 2, "TooFewReplicas"),
        (3, 4, 1, 5, 4, "DesiredWithinRange"),
    ],
)
def test_without_behavior_the_older_rules_apply(
    current: int, desired: int, low: int, high: int, expected: int, reason: str
) -> None:
    d = legacy(
        History(), NOW, current=current, desired=desired, low=low, high=high, down_window=300
    )
    assert (d.replicas, d.limited[1]) == (expected, reason)


def test_without_behavior_scale_down_waits_for_the_controllers_window() -> None:
    history = History()
    legacy(history, NOW, current=4, desired=4, low=1, high=10, down_window=60)
    d = legacy(
        history, NOW + timedelta(seconds=30), current=4, desired=1, low=1, high=10, down_window=60
    )
    assert d.replicas == 4
    d = legacy(
        history, NOW + timedelta(seconds=61), current=4, desired=1, low=1, high=10, down_window=60
    )
    assert d.replicas == 1

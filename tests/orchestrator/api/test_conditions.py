"""Tables of cases for reading status conditions and setting one (Kubernetes' transition rule)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestrator.api.conditions import (
    Condition,
    condition_of,
    condition_status,
    conditions_of,
    find_condition,
    remove_condition,
    set_condition,
    updated_condition,
    with_status,
)

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
READY_TRUE: Condition = {"type": "Ready", "status": "True", "lastTransitionTime": T0}
SCHEDULED: Condition = {"type": "PodScheduled", "status": "True", "lastTransitionTime": T0}


def pod(*conditions: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "status": {"conditions": list(conditions)}}


# -- reading ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({}, []),
        ({"status": None}, []),
        ({"status": {}}, []),
        ({"status": {"conditions": None}}, []),
        ({"status": "Running"}, []),  # not an object: read as absent
        ({"status": {"conditions": "Ready"}}, []),
        ({"status": {"conditions": ["Ready", READY_TRUE, 3]}}, [READY_TRUE]),
        (pod(SCHEDULED, READY_TRUE), [SCHEDULED, READY_TRUE]),
    ],
)
def test_conditions_of_reads_status_conditions_or_nothing(
    obj: dict[str, Any], expected: list[Condition]
) -> None:
    assert conditions_of(obj) == expected


@pytest.mark.parametrize(
    ("obj", "type_", "expected"),
    [
        (pod(), "Ready", None),
        (pod(SCHEDULED), "Ready", None),
        (pod(SCHEDULED, READY_TRUE), "Ready", READY_TRUE),
        (pod(SCHEDULED, READY_TRUE), "PodScheduled", SCHEDULED),
        # two of a type (invalid, but readable): the first wins, as in Kubernetes
        (pod(READY_TRUE, {"type": "Ready", "status": "False"}), "Ready", READY_TRUE),
        (pod({"status": "True"}), "Ready", None),  # no type
    ],
)
def test_condition_of_finds_the_first_of_a_type(
    obj: dict[str, Any], type_: str, expected: Condition | None
) -> None:
    assert condition_of(obj, type_) == expected
    assert find_condition(obj["status"]["conditions"], type_) == expected


def test_condition_of_returns_the_entry_itself_not_a_copy() -> None:
    obj = pod(dict(READY_TRUE, reason="Custom", someFutureField={"a": 1}))
    assert condition_of(obj, "Ready") is obj["status"]["conditions"][0]


@pytest.mark.parametrize(
    ("obj", "default", "expected"),
    [
        (pod(READY_TRUE), "", "True"),
        (pod({"type": "Ready", "status": "False"}), "", "False"),
        (pod({"type": "Ready", "status": "Unknown"}), "", "Unknown"),
        (pod(), "", ""),
        (pod(), "Unknown", "Unknown"),  # a node that never reported is Unknown
        (pod({"type": "Ready"}), "Unknown", "Unknown"),  # no status at all
        (pod({"type": "Ready", "status": None}), "", ""),
        (pod({"type": "Ready", "status": True}), "", ""),  # a bool is not a status
        ({}, "", ""),
    ],
)
def test_condition_status_or_the_default(obj: dict[str, Any], default: str, expected: str) -> None:
    assert condition_status(obj, "Ready", default) == expected


# -- the transition rule ---------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "wanted_status", "transition"),
    [
        (None, "True", T1),  # new: its own time
        ({"type": "Ready", "status": "True", "lastTransitionTime": T0}, "True", T0),
        ({"type": "Ready", "status": "False", "lastTransitionTime": T0}, "True", T1),
        ({"type": "Ready", "status": "Unknown", "lastTransitionTime": T0}, "False", T1),
        ({"type": "Ready", "status": "True"}, "True", T1),  # nothing to keep
        ({"type": "Ready", "status": "True", "lastTransitionTime": None}, "True", T1),
    ],
)
def test_last_transition_time_changes_only_with_the_status(
    current: Condition | None, wanted_status: str, transition: str
) -> None:
    wanted: Condition = {
        "type": "Ready",
        "status": wanted_status,
        "reason": "Changed",
        "lastTransitionTime": T1,
    }
    out = updated_condition(current, wanted)
    assert out["lastTransitionTime"] == transition
    assert (out["status"], out["reason"]) == (wanted_status, "Changed")
    assert wanted["lastTransitionTime"] == T1  # the argument is left alone


@pytest.mark.parametrize(
    ("before", "status", "fields", "after"),
    [
        (
            {"type": "Ready", "status": "True", "lastTransitionTime": T0, "lastProbeTime": None},
            "False",
            {},
            {"type": "Ready", "status": "False", "lastTransitionTime": T1, "lastProbeTime": None},
        ),
        (  # unchanged status: the time stays, the reason is set
            {"type": "Ready", "status": "False", "lastTransitionTime": T0},
            "False",
            {"reason": "PodCompleted"},
            {
                "type": "Ready",
                "status": "False",
                "lastTransitionTime": T0,
                "reason": "PodCompleted",
            },
        ),
        (  # fields the view does not name are kept
            {"type": "Ready", "status": "True", "lastTransitionTime": T0, "x-extra": [1]},
            "Unknown",
            {"reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status."},
            {
                "type": "Ready",
                "status": "Unknown",
                "lastTransitionTime": T1,
                "x-extra": [1],
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
            },
        ),
    ],
)
def test_with_status_turns_a_condition(
    before: Condition, status: str, fields: dict[str, Any], after: Condition
) -> None:
    kept = copy.deepcopy(before)
    assert with_status(before, status, T1, **fields) == after
    assert before == kept


# -- setting in a list -----------------------------------------------------------

PROGRESSING: Condition = {
    "type": "Progressing",
    "status": "True",
    "reason": "NewReplicaSetCreated",
    "message": 'Created new replica set "web-1"',
    "lastUpdateTime": T0,
    "lastTransitionTime": T0,
}
AVAILABLE: Condition = {
    "type": "Available",
    "status": "False",
    "reason": "MinimumReplicasUnavailable",
    "lastUpdateTime": T0,
    "lastTransitionTime": T0,
}


def progressing(status: str, reason: str, message: str = "m") -> Condition:
    return {
        "type": "Progressing",
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": T1,
        "lastTransitionTime": T1,
    }


@pytest.mark.parametrize(
    ("before", "wanted", "keep_same_reason", "after"),
    [
        # added at the end when the type is new
        ([AVAILABLE], PROGRESSING, False, [AVAILABLE, PROGRESSING]),
        (None, PROGRESSING, False, [PROGRESSING]),
        # replaced in place; same status keeps the transition, the rest is new
        (
            [PROGRESSING, AVAILABLE],
            progressing("True", "ReplicaSetUpdated"),
            False,
            [{**progressing("True", "ReplicaSetUpdated"), "lastTransitionTime": T0}, AVAILABLE],
        ),
        # a new status transitions now
        (
            [PROGRESSING, AVAILABLE],
            progressing("False", "ProgressDeadlineExceeded"),
            False,
            [progressing("False", "ProgressDeadlineExceeded"), AVAILABLE],
        ),
        # Deployments: same status and reason leaves the condition alone, message too
        (
            [AVAILABLE, PROGRESSING],
            progressing("True", "NewReplicaSetCreated", "other"),
            True,
            [AVAILABLE, PROGRESSING],
        ),
        # ... but a new reason updates it, keeping the transition
        (
            [AVAILABLE, PROGRESSING],
            progressing("True", "NewReplicaSetAvailable"),
            True,
            [
                AVAILABLE,
                {**progressing("True", "NewReplicaSetAvailable"), "lastTransitionTime": T0},
            ],
        ),
        # ... and so does a new status
        (
            [AVAILABLE, PROGRESSING],
            progressing("Unknown", "NewReplicaSetCreated"),
            True,
            [AVAILABLE, progressing("Unknown", "NewReplicaSetCreated")],
        ),
    ],
)
def test_set_condition(
    before: list[Condition] | None,
    wanted: Condition,
    keep_same_reason: bool,
    after: list[Condition],
) -> None:
    kept = copy.deepcopy(before)
    assert set_condition(before, wanted, keep_same_reason=keep_same_reason) == after
    assert before == kept  # a cached list is never modified


@pytest.mark.parametrize(
    ("before", "type_", "after"),
    [
        ([AVAILABLE, PROGRESSING], "Progressing", [AVAILABLE]),
        ([AVAILABLE, PROGRESSING], "ReplicaFailure", [AVAILABLE, PROGRESSING]),
        (None, "Progressing", []),
    ],
)
def test_remove_condition(
    before: list[Condition] | None, type_: str, after: list[Condition]
) -> None:
    assert remove_condition(before, type_) == after

"""Scores, the choice between nodes, and the FailedScheduling message."""

from __future__ import annotations

import random

import pytest
from scheduler_objects import make_node, make_pod

from orchestrator.api.objects import Obj
from orchestrator.scheduler.nodeinfo import node_info
from orchestrator.scheduler.placement import failure_message, place_pod
from orchestrator.scheduler.podinfo import pod_info
from orchestrator.scheduler.scoring import (
    Siblings,
    least_allocated,
    score_node,
    select_host,
    spread,
)


@pytest.mark.parametrize(
    ("pod", "node", "bound", "expected"),
    [
        (make_pod("p", cpu="1", memory="1Gi"), make_node("n", cpu="4", memory="4Gi"), [], 75.0),
        (make_pod("p", cpu="2", memory="2Gi"), make_node("n", cpu="4", memory="4Gi"), [], 50.0),
        # No requests: counted as 100m and 200Mi for scoring.
        (make_pod("p"), make_node("n", cpu="1", memory="2000Mi"), [], 90.0),
        (
            make_pod("p", cpu="1", memory="1Gi"),
            make_node("n", cpu="4", memory="4Gi"),
            [make_pod("a", cpu="3", memory="3Gi", node="n")],
            0.0,
        ),
        # Over-committed counts as nothing free, never negative.
        (make_pod("p", cpu="8", memory="1Gi"), make_node("n", cpu="4", memory="4Gi"), [], 37.5),
    ],
)
def test_least_allocated(pod: Obj, node: Obj, bound: list[Obj], expected: float) -> None:
    info = node_info(node, [pod_info(p) for p in bound])
    assert least_allocated(pod_info(pod), info) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("siblings", "expected"),
    [
        (Siblings(0, 0), 100.0),
        (Siblings(0, 4), 100.0),
        (Siblings(2, 4), 50.0),
        (Siblings(4, 4), 0.0),
    ],
)
def test_spread(siblings: Siblings, expected: float) -> None:
    assert spread(siblings) == expected


def test_fewer_siblings_outweigh_a_little_more_room() -> None:
    pod = pod_info(make_pod("p", cpu="100m", owner="rs"))
    roomy = node_info(make_node("roomy", cpu="8"))
    crowded = node_info(make_node("crowded", cpu="4"))
    assert score_node(pod, roomy, Siblings(3, 3)) < score_node(pod, crowded, Siblings(0, 3))


@pytest.mark.parametrize(
    ("scores", "winners"),
    [
        ([("a", 10.0), ("b", 20.0), ("c", 5.0)], {"b"}),
        ([("a", 20.0), ("b", 20.0), ("c", 5.0)], {"a", "b"}),
        ([("only", 0.0)], {"only"}),
    ],
)
def test_select_host_takes_the_best_and_breaks_ties_at_random(
    scores: list[tuple[str, float]], winners: set[str]
) -> None:
    rng = random.Random(7)
    assert {select_host(scores, rng) for _ in range(50)} == winners


@pytest.mark.parametrize(
    ("total", "reasons", "message"),
    [
        (
            3,
            {
                "Insufficient memory": 2,
                "node(s) had untolerated taint {node.kubernetes.io/unreachable: }": 1,
            },
            "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{node.kubernetes.io/unreachable: }, 2 Insufficient memory.",
        ),
        (
            2,
            {"Insufficient cpu": 2, "Insufficient memory": 1},
            "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.",
        ),
        (
            12,
            {"Too many pods": 10, "node(s) were unschedulable": 2},
            # Sorted as strings, as Kubernetes sorts them.
            "0/12 nodes are available: 10 Too many pods, 2 node(s) were unschedulable.",
        ),
        (0, {}, "no nodes available to schedule pods"),
    ],
)
def test_failure_message(total: int, reasons: dict[str, int], message: str) -> None:
    assert failure_message(total, reasons) == message


def test_a_pod_that_fits_nowhere_gets_reasons_per_node_class() -> None:
    nodes = [
        node_info(make_node("small-1", memory="1Gi")),
        node_info(make_node("small-2", memory="1Gi")),
        node_info(
            make_node(
                "gone",
                taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}],
                ready="Unknown",
            )
        ),
    ]
    placement = place_pod(
        pod_info(make_pod("p", memory="2Gi")), nodes, lambda _: 0, random.Random()
    )
    assert placement.node == ""
    assert placement.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }, 2 Insufficient memory."
    )


def test_a_pod_goes_to_the_node_with_fewest_siblings() -> None:
    nodes = [node_info(make_node(n)) for n in ("a", "b", "c")]
    counts = {"a": 2, "b": 0, "c": 1}
    pod = pod_info(make_pod("p", owner="rs"))
    assert place_pod(pod, nodes, counts.__getitem__, random.Random()).node == "b"

"""One scheduling decision: the node for a pod, or why there is none. Pure, no I/O.

``place_pod`` filters every node, scores the feasible ones and picks the
best (``filters``, ``scoring``). When no node fits, the reasons are counted
per node into a histogram and rendered as Kubernetes' ``FitError`` does:

    0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient memory.

(each reason prefixed with its count, the parts sorted as strings, as
Kubernetes sorts them). A pod rejected for two resources on one node counts
under both. Kubernetes adds a sentence about preemption; we do not preempt,
so it is left out. With no nodes at all the message is Kubernetes' "no
nodes available to schedule pods".
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.scheduler.filters import filter_node
from orchestrator.scheduler.nodeinfo import NodeInfo
from orchestrator.scheduler.podinfo import PodInfo
from orchestrator.scheduler.scoring import (
    DEFAULT_WEIGHTS,
    ScoreWeights,
    Siblings,
    score_node,
    select_host,
)

NO_NODES = "no nodes available to schedule pods"


@dataclass(frozen=True)
class Placement:
    node: str  # "" when the pod fits nowhere
    total_nodes: int
    reasons: Mapping[str, int] = field(default_factory=dict)  # reason -> number of nodes

    @property
    def message(self) -> str:
        return failure_message(self.total_nodes, self.reasons)


def failure_message(total_nodes: int, reasons: Mapping[str, int]) -> str:
    """Kubernetes' FailedScheduling message for a pod that fits on none of the nodes."""
    if total_nodes == 0:
        return NO_NODES
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items())
    message = f"0/{total_nodes} nodes are available:"
    if parts:
        message += f" {', '.join(parts)}."
    return message


def place_pod(
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    siblings_on: Callable[[str], int],
    rng: random.Random,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
) -> Placement:
    """Choose a node for ``pod``; ``siblings_on(node)`` counts its controller's pods there."""
    feasible: list[NodeInfo] = []
    reasons: Counter[str] = Counter()
    for node in nodes:
        failed = filter_node(pod, node)
        if failed:
            reasons.update(failed)
        else:
            feasible.append(node)
    if not feasible:
        return Placement("", len(nodes), dict(reasons))
    if len(feasible) == 1:
        return Placement(feasible[0].name, len(nodes))
    counts = [siblings_on(n.name) if pod.owner_uid else 0 for n in feasible]
    most = max(counts)
    scores = [
        (node.name, score_node(pod, node, Siblings(count, most), weights))
        for node, count in zip(feasible, counts, strict=True)
    ]
    return Placement(select_host(scores, rng), len(nodes))

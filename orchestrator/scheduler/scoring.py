"""Scores: which of the nodes a pod fits on it should go to. Pure functions, no I/O.

Two scores, each from 0 to 100, combined with Kubernetes' default weights
(NodeResourcesFit 1, PodTopologySpread 2):

- least allocated: the fraction of cpu and of memory left free once the pod
  is placed, averaged. Requests count with their scoring defaults (100m,
  200Mi for a container that asks for nothing), so that pods without
  requests spread too.
- spreading: fewer pods of the same controller (ownerReference with
  ``controller: true``) on the node is better, normalised against the node
  that has the most of them among the candidates, as Kubernetes'
  ``SelectorSpread`` did: ``100 * (most - here) / most``.

The highest total wins; ties are broken at random (``select_host``) so that
equal nodes share a burst instead of all pods going to the first one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.scheduler.nodeinfo import NodeInfo
from orchestrator.scheduler.podinfo import PodInfo

MAX_SCORE = 100.0


@dataclass(frozen=True, slots=True)
class Siblings:
    """Pods of the same controller: on this node, and on the candidate node with the most."""

    here: int = 0
    most: int = 0


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    least_allocated: float = 1.0  # Kubernetes' NodeResourcesFit weight
    spread: float = 2.0  # Kubernetes' PodTopologySpread weight


DEFAULT_WEIGHTS = ScoreWeights()


def _free_fraction(allocatable: int, requested: int) -> float:
    if allocatable <= 0 or requested > allocatable:
        return 0.0
    return (allocatable - requested) * MAX_SCORE / allocatable


def least_allocated(pod: PodInfo, node: NodeInfo) -> float:
    """0-100: how much cpu and memory stay free on ``node`` after placing ``pod``."""
    have = node.facts.allocatable
    used = node.non_zero_requested
    want = pod.non_zero_requests
    cpu = _free_fraction(have.milli_cpu, used.milli_cpu + want.milli_cpu)
    memory = _free_fraction(have.memory, used.memory + want.memory)
    return (cpu + memory) / 2


def spread(siblings: Siblings) -> float:
    """0-100: 100 where no sibling runs, 0 on the node with the most."""
    if siblings.most <= 0:
        return MAX_SCORE
    return MAX_SCORE * max(0, siblings.most - siblings.here) / siblings.most


def score_node(
    pod: PodInfo, node: NodeInfo, siblings: Siblings, weights: ScoreWeights = DEFAULT_WEIGHTS
) -> float:
    """How good a home ``node`` is for ``pod`` (higher is better)."""
    return weights.least_allocated * least_allocated(pod, node) + weights.spread * spread(siblings)


def select_host(scores: Sequence[tuple[str, float]], rng: random.Random) -> str:
    """The name with the highest score; one of the best at random when several tie."""
    if not scores:
        raise ValueError("no node to select from")
    best = max(score for _, score in scores)
    top = [name for name, score in scores if score >= best - 1e-9]
    return top[0] if len(top) == 1 else rng.choice(top)

"""Which node may read what: pods bound to a node, and what those pods reference.

Kubernetes' Node authorizer keeps a graph (secret -> pod -> node); ours is the
same relation kept as two maps, because every edge we follow starts at a
pod: ``pods`` remembers, per pod, the node it is bound to and the objects it
references (``orchestrator.api.podrefs``); ``reachable`` counts, per node,
how many of its pods reference each object. A question ("may node n1 get
secret default/db?") is one dictionary lookup; a pod event touches only
that pod's references.

Pods without ``spec.nodeName`` are not in the graph (no node may read for
them). Mirror pods (annotation ``kubernetes.io/config.mirror``) bind to their
node but reference nothing, as Kubernetes has it.

The graph is plain data, fed in order by ``feed.GraphFeed``; it is only
touched from the event loop, so it needs no lock.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.api.podrefs import Reference, pod_references

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass(frozen=True, slots=True)
class PodEdges:
    node: str
    uid: str
    references: frozenset[Reference]


def edges_of(pod: Mapping[str, Any]) -> PodEdges | None:
    """The edges a pod adds: None while it is not bound to a node."""
    spec = pod.get("spec") or {}
    node = spec.get("nodeName") if isinstance(spec, Mapping) else None
    if not isinstance(node, str) or not node:
        return None
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    mirror = isinstance(annotations, Mapping) and MIRROR_ANNOTATION in annotations
    refs = frozenset() if mirror else pod_references(pod)
    return PodEdges(node, str(meta.get("uid") or ""), refs)


class NodeGraph:
    def __init__(self) -> None:
        self._pods: dict[tuple[str, str], PodEdges] = {}
        self._reachable: dict[str, collections.Counter[Reference]] = {}

    def __len__(self) -> int:
        return len(self._pods)

    def set_pod(self, pod: Mapping[str, Any]) -> None:
        """Record a pod as it now is (added, bound, changed)."""
        meta = pod.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        edges = edges_of(pod)
        old = self._pods.get(key)
        if old == edges:
            return
        if old is not None:
            self._forget(old)
        if edges is None:
            self._pods.pop(key, None)
            return
        self._pods[key] = edges
        counts = self._reachable.setdefault(edges.node, collections.Counter())
        counts.update(edges.references)

    def delete_pod(self, namespace: str, name: str) -> None:
        old = self._pods.pop((namespace, name), None)
        if old is not None:
            self._forget(old)

    def _forget(self, edges: PodEdges) -> None:
        counts = self._reachable.get(edges.node)
        if counts is None:
            return
        counts.subtract(edges.references)
        for ref in edges.references:
            if counts[ref] <= 0:
                del counts[ref]
        if not counts:
            del self._reachable[edges.node]

    def replace(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """Start over from a full list of pods."""
        self._pods.clear()
        self._reachable.clear()
        for pod in pods:
            self.set_pod(pod)

    def reaches(self, node: str, reference: Reference) -> bool:
        """True when some pod bound to ``node`` references ``reference``."""
        counts = self._reachable.get(node)
        return counts is not None and counts[reference] > 0

    def node_of(self, namespace: str, name: str) -> str:
        """The node a pod is bound to ("" when unknown or unbound)."""
        edges = self._pods.get((namespace, name))
        return edges.node if edges is not None else ""

"""A node as the scheduler sees it: what it offers, and what is already placed on it.

``NodeInfo`` is frozen: the cache builds a new one whenever a pod lands on
or leaves the node (``with_pod``/``without_pod``), so a scheduling pass can
read a consistent snapshot without copying. The static part comes from the
Node object (``node_facts``): labels, taints, cordon, readiness, and
``status.allocatable`` (falling back to ``capacity``). As in Kubernetes, a
node whose allocatable has no ``pods`` entry admits no pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from orchestrator.api.conditions import condition_status
from orchestrator.api.objects import metadata_of
from orchestrator.api.quantity import QuantityError, to_int
from orchestrator.scheduler.podinfo import HostPort, PodInfo
from orchestrator.scheduler.resources import Resources, parse_resources

_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"  # NoSchedule, PreferNoSchedule or NoExecute


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the Node object says; equal facts mean nothing changed for scheduling."""

    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    ready: bool = True
    allocatable: Resources = field(default_factory=Resources)
    allowed_pods: int = 0


@dataclass(frozen=True, slots=True)
class NodeInfo:
    facts: NodeFacts
    requested: Resources = field(default_factory=Resources)
    non_zero_requested: Resources = field(default_factory=Resources)  # for scoring
    pod_count: int = 0
    host_ports: frozenset[HostPort] = frozenset()

    @property
    def name(self) -> str:
        return self.facts.name

    def with_pod(self, pod: PodInfo) -> NodeInfo:
        return replace(
            self,
            requested=self.requested + pod.requests,
            non_zero_requested=self.non_zero_requested + pod.non_zero_requests,
            pod_count=self.pod_count + 1,
            host_ports=self.host_ports | frozenset(pod.host_ports)
            if pod.host_ports
            else self.host_ports,
        )

    def without_pod(self, pod: PodInfo, ports_still_used: Iterable[HostPort] = ()) -> NodeInfo:
        """The node after ``pod`` left; ``ports_still_used``: host ports other pods hold."""
        ports = self.host_ports
        if pod.host_ports:
            ports = (ports - frozenset(pod.host_ports)) | frozenset(ports_still_used)
        return replace(
            self,
            requested=self.requested - pod.requests,
            non_zero_requested=self.non_zero_requested - pod.non_zero_requests,
            pod_count=self.pod_count - 1,
            host_ports=ports,
        )


def node_facts(node: Mapping[str, Any]) -> NodeFacts:
    """Parse a Node object."""
    meta = metadata_of(node)
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    try:
        allowed_pods = to_int(allocatable.get("pods", 0))
    except (QuantityError, TypeError):
        allowed_pods = 0
    return NodeFacts(
        name=str(meta.get("name", "")),
        labels=MappingProxyType(dict(meta.get("labels") or {})),
        taints=tuple(
            Taint(str(t.get("key", "")), str(t.get("value") or ""), str(t.get("effect", "")))
            for t in spec.get("taints") or ()
            if isinstance(t, dict)
        ),
        unschedulable=bool(spec.get("unschedulable")),
        ready=condition_status(node, "Ready") == "True",
        allocatable=parse_resources(allocatable),
        allowed_pods=allowed_pods,
    )


def node_info(node: Mapping[str, Any], pods: Iterable[PodInfo] = ()) -> NodeInfo:
    """A NodeInfo for a Node object with ``pods`` already placed on it."""
    info = NodeInfo(node_facts(node))
    for pod in pods:
        info = info.with_pod(pod)
    return info

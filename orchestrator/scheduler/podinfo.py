"""What the scheduler needs to know about a pod, read once from its JSON.

A pod is filtered against every node, so everything the filters and scores
read (requests, tolerations, node selector, required node affinity, host
ports, the controlling owner) is parsed from the object once into a frozen
``PodInfo``; the per-node checks then only compare values. The same record
is what the scheduler's cache keeps for a pod bound to a node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from orchestrator.api.objects import controller_ref, metadata_of
from orchestrator.scheduler.resources import Resources, pod_requests

HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort); "0.0.0.0" means every address
ANY_IP = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"  # or Exists
    value: str = ""
    effect: str = ""  # empty tolerates every effect


@dataclass(frozen=True, slots=True)
class Requirement:
    """One node selector requirement: ``key operator values``."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """Requirements on labels and on fields (``metadata.name``), all of which must hold."""

    match_expressions: tuple[Requirement, ...] = ()
    match_fields: tuple[Requirement, ...] = ()


@dataclass(frozen=True, slots=True)
class PodInfo:
    key: str  # namespace/name
    uid: str
    requests: Resources
    non_zero_requests: Resources  # cpu and memory, with defaults for scoring
    node_selector: Mapping[str, str]
    required_affinity: tuple[NodeSelectorTerm, ...] | None  # None: no required node affinity
    tolerations: tuple[Toleration, ...]
    host_ports: tuple[HostPort, ...]
    owner_uid: str  # the controlling owner's uid, "" when none
    node_name: str = ""


def _requirements(items: Any) -> tuple[Requirement, ...]:
    return tuple(
        Requirement(
            str(r.get("key", "")),
            str(r.get("operator", "")),
            tuple(str(v) for v in r.get("values") or ()),
        )
        for r in items or ()
        if isinstance(r, dict)
    )


def _required_affinity(spec: Mapping[str, Any]) -> tuple[NodeSelectorTerm, ...] | None:
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    return tuple(
        NodeSelectorTerm(
            _requirements(term.get("matchExpressions")), _requirements(term.get("matchFields"))
        )
        for term in required.get("nodeSelectorTerms") or ()
        if isinstance(term, dict)
    )


def _host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    ports: list[HostPort] = []
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        for port in container.get("ports") or ():
            host_port = port.get("hostPort")
            if host_port:
                ports.append(
                    (port.get("hostIP") or ANY_IP, port.get("protocol") or "TCP", int(host_port))
                )
    return tuple(ports)


def controller_uid(pod: Mapping[str, Any]) -> str:
    """The uid of the pod's controlling owner (a ReplicaSet, a Job...), or ""."""
    ref = controller_ref(pod)
    return str(ref.get("uid", "")) if ref is not None else ""


def pod_info(pod: Mapping[str, Any]) -> PodInfo:
    """Parse a Pod object into the record filters and scores read."""
    meta = metadata_of(pod)
    spec = pod.get("spec") or {}
    requests, non_zero = pod_requests(spec)
    return PodInfo(
        key=f"{meta.get('namespace', '')}/{meta.get('name', '')}",
        uid=str(meta.get("uid", "")),
        requests=requests,
        non_zero_requests=non_zero,
        node_selector=MappingProxyType(dict(spec.get("nodeSelector") or {})),
        required_affinity=_required_affinity(spec),
        tolerations=tuple(
            Toleration(
                str(t.get("key") or ""),
                str(t.get("operator") or "Equal"),
                str(t.get("value") or ""),
                str(t.get("effect") or ""),
            )
            for t in spec.get("tolerations") or ()
            if isinstance(t, dict)
        ),
        host_ports=_host_ports(spec),
        owner_uid=controller_uid(pod),
        node_name=str(spec.get("nodeName") or ""),
    )

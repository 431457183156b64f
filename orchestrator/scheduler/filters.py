"""Filters: can this pod run on this node? Pure functions, no I/O.

``filter_node`` runs the checks in Kubernetes' plugin order and returns the
reasons of the first one that fails (one check may give several, such as
``Insufficient cpu`` and ``Insufficient memory``), or an empty list when the
pod fits. Stopping at the first failing check is what makes the
FailedScheduling message count each node once per reason class, as
kube-scheduler does. Reasons are Kubernetes 1.31's own wording, so that
people and tools that read them keep working:

1. cordon (``spec.unschedulable``): "node(s) were unschedulable", unless the
   pod tolerates ``node.kubernetes.io/unschedulable:NoSchedule``;
2. taints: every NoSchedule and NoExecute taint must be tolerated
   (PreferNoSchedule only affects preference): "node(s) had untolerated
   taint {key: value}";
3. readiness (condition Ready=True; kube-scheduler leaves this to the
   ``not-ready`` taint, we also check the condition so that a node without a
   lifecycle controller is not used while it is down): "node(s) were not
   ready", unless the pod tolerates ``node.kubernetes.io/not-ready``;
4. nodeSelector and required node affinity: "node(s) didn't match Pod's
   node affinity/selector";
5. host ports: "node(s) didn't have free ports for the requested pod ports";
6. requests against allocatable minus what is bound: "Too many pods",
   "Insufficient cpu", "Insufficient memory", "Insufficient <resource>".
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.scheduler.nodeinfo import NodeInfo, Taint
from orchestrator.scheduler.podinfo import (
    ANY_IP,
    NodeSelectorTerm,
    PodInfo,
    Requirement,
    Toleration,
)

UNSCHEDULABLE = "node(s) were unschedulable"
NOT_READY = "node(s) were not ready"
AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
PORTS_IN_USE = "node(s) didn't have free ports for the requested pod ports"
TOO_MANY_PODS = "Too many pods"

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"


def untolerated_taint(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def insufficient(resource: str) -> str:
    return f"Insufficient {resource}"


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Kubernetes' ``Toleration.ToleratesTaint``."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    return toleration.operator in ("", "Equal") and toleration.value == taint.value


def _tolerated(pod: PodInfo, taint: Taint) -> bool:
    return any(tolerates(t, taint) for t in pod.tolerations)


def check_unschedulable(pod: PodInfo, node: NodeInfo) -> list[str]:
    if node.facts.unschedulable and not _tolerated(
        pod, Taint(TAINT_UNSCHEDULABLE, "", "NoSchedule")
    ):
        return [UNSCHEDULABLE]
    return []


def check_taints(pod: PodInfo, node: NodeInfo) -> list[str]:
    for taint in node.facts.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not _tolerated(pod, taint):
            return [untolerated_taint(taint)]
    return []


def check_ready(pod: PodInfo, node: NodeInfo) -> list[str]:
    if node.facts.ready or _tolerated(pod, Taint(TAINT_NOT_READY, "", "NoSchedule")):
        return []
    return [NOT_READY]


def _label_matches(req: Requirement, labels: Mapping[str, str]) -> bool:
    value = labels.get(req.key)
    op = req.operator
    if op == "In":
        return value is not None and value in req.values
    if op == "NotIn":
        return value is None or value not in req.values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(req.values) == 1:
        try:
            have, bound = int(value), int(req.values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def _field_matches(req: Requirement, node: NodeInfo) -> bool:
    if req.key != "metadata.name":
        return False
    if req.operator == "In":
        return node.name in req.values
    if req.operator == "NotIn":
        return node.name not in req.values
    return False


def term_matches(term: NodeSelectorTerm, node: NodeInfo) -> bool:
    """All requirements of one term hold; an empty term matches no node."""
    if not term.match_expressions and not term.match_fields:
        return False
    labels = node.facts.labels
    return all(_label_matches(r, labels) for r in term.match_expressions) and all(
        _field_matches(r, node) for r in term.match_fields
    )


def check_affinity(pod: PodInfo, node: NodeInfo) -> list[str]:
    labels = node.facts.labels
    for key, value in pod.node_selector.items():
        if labels.get(key) != value:
            return [AFFINITY_MISMATCH]
    terms = pod.required_affinity
    if terms is not None and not any(term_matches(t, node) for t in terms):
        return [AFFINITY_MISMATCH]
    return []


def check_ports(pod: PodInfo, node: NodeInfo) -> list[str]:
    used = node.host_ports
    if not pod.host_ports or not used:
        return []
    for ip, protocol, port in pod.host_ports:
        if ip == ANY_IP:
            if any(p == port and proto == protocol for _, proto, p in used):
                return [PORTS_IN_USE]
        elif (ip, protocol, port) in used or (ANY_IP, protocol, port) in used:
            return [PORTS_IN_USE]
    return []


def check_resources(pod: PodInfo, node: NodeInfo) -> list[str]:
    facts = node.facts
    reasons = []
    if node.pod_count + 1 > facts.allowed_pods:
        reasons.append(TOO_MANY_PODS)
    want = pod.requests
    if want.is_zero():
        return reasons
    have = facts.allocatable
    used = node.requested
    if want.milli_cpu and want.milli_cpu > have.milli_cpu - used.milli_cpu:
        reasons.append(insufficient("cpu"))
    if want.memory and want.memory > have.memory - used.memory:
        reasons.append(insufficient("memory"))
    if want.ephemeral_storage and (
        want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage
    ):
        reasons.append(insufficient("ephemeral-storage"))
    for name, amount in want.scalars.items():
        if amount > have.scalars.get(name, 0) - used.scalars.get(name, 0):
            reasons.append(insufficient(name))
    return reasons


CHECKS = (
    check_unschedulable,
    check_taints,
    check_ready,
    check_affinity,
    check_ports,
    check_resources,
)


def filter_node(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Why ``pod`` cannot run on ``node`` (the first failing check's reasons), or []."""
    for check in CHECKS:
        reasons = check(pod, node)
        if reasons:
            return reasons
    return []

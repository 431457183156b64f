"""The scheduler's cache: every node, and what the pods bound to it request.

It is fed from the node and pod informers (in their handlers: an in-memory
bookkeeping step with no I/O and no decision, like the informer's own
indexes) and read by every scheduling pass, so placing a pod costs no API
read. Each node's ``NodeInfo`` is rebuilt (frozen) whenever a pod lands on
or leaves it; ``nodes()`` hands out the current list.

Assumed pods, as kube-scheduler's cache has them: the moment a node is
chosen, the pod is *assumed* onto it, before the binding request is even
sent, so the next pass in a burst already sees the node's room taken and
two pods are never placed on the last slot. The assumption ends when the
informer shows the pod bound (confirmed: the watched object replaces it),
when the pod is deleted, or when binding fails (``forget``). An update that
still shows the pod unbound (the watch lagging the bind) leaves the
assumption in place. Pods in phase Succeeded or Failed hold nothing.

Pods are kept by uid, so a pod deleted and re-created under the same name
is a new pod. Pods bound to a node the cache has not seen yet are counted
against that name and appear once the Node does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from orchestrator.api.objects import metadata_of
from orchestrator.scheduler.nodeinfo import NodeFacts, NodeInfo, node_facts
from orchestrator.scheduler.podinfo import PodInfo, pod_info

TERMINAL_PHASES = ("Succeeded", "Failed")


def holds_resources(pod: dict[str, Any]) -> bool:
    """A pod bound to a node that has not finished: it counts against the node."""
    return bool((pod.get("spec") or {}).get("nodeName")) and (
        (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
    )


class SchedulerCache:
    def __init__(self) -> None:
        self._facts: dict[str, NodeFacts] = {}
        self._infos: dict[str, NodeInfo] = {}  # by node name, for nodes and for pods' nodes
        self._pods: dict[str, PodInfo] = {}  # by uid, with node_name set
        self._by_node: dict[str, dict[str, PodInfo]] = {}  # node -> uid -> pod
        self._assumed: set[str] = set()
        self._owners: dict[str, Counter[str]] = {}  # controller uid -> node -> pods
        self._listed: list[NodeInfo] | None = None

    # -- reading -------------------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        """Every known node with what is placed on it (a list the caller may keep)."""
        if self._listed is None:
            self._listed = [self._infos[name] for name in self._facts]
        return self._listed

    def node(self, name: str) -> NodeInfo | None:
        return self._infos.get(name) if name in self._facts else None

    def siblings(self, owner_uid: str, node: str) -> int:
        """Pods of controller ``owner_uid`` placed on ``node`` (assumed ones included)."""
        counts = self._owners.get(owner_uid)
        return counts.get(node, 0) if counts else 0

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def placed(self, uid: str) -> str:
        """The node the pod with ``uid`` is placed on (bound or assumed), or ""."""
        pod = self._pods.get(uid)
        return pod.node_name if pod else ""

    def __len__(self) -> int:
        return len(self._pods)

    # -- nodes ---------------------------------------------------------------

    def set_node(self, node: dict[str, Any]) -> bool:
        """Add or update a node; True when anything the filters read changed."""
        facts = node_facts(node)
        if self._facts.get(facts.name) == facts:
            return False
        self._facts[facts.name] = facts
        current = self._infos.get(facts.name)
        self._infos[facts.name] = (
            NodeInfo(facts) if current is None else _with_facts(current, facts)
        )
        self._listed = None
        return True

    def remove_node(self, name: str) -> None:
        self._facts.pop(name, None)
        if not self._by_node.get(name):
            self._infos.pop(name, None)
        self._listed = None

    # -- pods ----------------------------------------------------------------

    def observe_pod(self, pod: dict[str, Any]) -> bool:
        """Take in a pod as the informer shows it; True when it freed room somewhere."""
        uid = str(metadata_of(pod).get("uid", ""))
        if holds_resources(pod):
            info = pod_info(pod)
            known = self._pods.get(uid)
            self._assumed.discard(uid)
            if known == info:
                return False
            freed = known is not None and self._remove(uid)
            self._add(info)
            return freed
        if uid in self._assumed and not (pod.get("spec") or {}).get("nodeName"):
            return False  # the watch has not caught up with our binding yet
        return self.remove_pod(uid)

    def remove_pod(self, uid: str) -> bool:
        """Forget a pod (deleted, or finished); True when it held room on a node."""
        self._assumed.discard(uid)
        return self._remove(uid)

    def assume(self, pod: PodInfo, node: str) -> None:
        """Count ``pod`` on ``node`` before the binding is confirmed."""
        if pod.uid in self._pods:
            self._remove(pod.uid)
        self._add(_on(pod, node))
        self._assumed.add(pod.uid)

    def forget(self, uid: str) -> None:
        """Drop an assumption whose binding failed (a confirmed pod stays)."""
        if uid in self._assumed:
            self.remove_pod(uid)

    def _add(self, pod: PodInfo) -> None:
        name = pod.node_name
        self._pods[pod.uid] = pod
        self._by_node.setdefault(name, {})[pod.uid] = pod
        info = self._infos.get(name) or NodeInfo(NodeFacts(name))
        self._infos[name] = info.with_pod(pod)
        if pod.owner_uid:
            self._owners.setdefault(pod.owner_uid, Counter())[name] += 1
        if name in self._facts:
            self._listed = None

    def _remove(self, uid: str) -> bool:
        pod = self._pods.pop(uid, None)
        if pod is None:
            return False
        name = pod.node_name
        on_node = self._by_node.get(name, {})
        on_node.pop(uid, None)
        info = self._infos.get(name)
        if info is not None:
            still_used = (
                [p for other in on_node.values() for p in other.host_ports]
                if pod.host_ports
                else []
            )
            self._infos[name] = info.without_pod(pod, still_used)
        if not on_node:
            self._by_node.pop(name, None)
            if name not in self._facts:
                self._infos.pop(name, None)
        if pod.owner_uid:
            counts = self._owners.get(pod.owner_uid)
            if counts is not None:
                counts[name] -= 1
                if counts[name] <= 0:
                    del counts[name]
                if not counts:
                    del self._owners[pod.owner_uid]
        if name in self._facts:
            self._listed = None
        return True


def _with_facts(info: NodeInfo, facts: NodeFacts) -> NodeInfo:
    return replace(info, facts=facts)


def _on(pod: PodInfo, node: str) -> PodInfo:
    return replace(pod, node_name=node)

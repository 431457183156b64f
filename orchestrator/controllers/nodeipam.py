"""Node IPAM: each Node gets a ``spec.podCIDR`` (a /24 of the cluster range) when it registers.

Which ranges are taken is read from the Nodes themselves, never remembered:
a restarted controller (or a new leader) derives the same picture from the
cache, so a node keeps its range for life and a deleted node's range becomes
free again. The only memory kept is of ranges this process has just written
and the cache has not echoed yet, so that the next node does not get the
same one a moment later; allocation is serialised by a lock for the same
reason. The write is a merge patch carrying the resourceVersion read, so a
node changed meanwhile answers 409 and is retried from the fresh cache.

When the range is exhausted the node gets a ``CIDRNotAvailable`` Warning and
waits: deleting any node re-queues the nodes still without a range.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, object_key
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import WorkQueue

log = logging.getLogger(__name__)
NODES = BUILTIN_TYPES.by_group_kind("", "Node")


@dataclass(frozen=True)
class NodeIPAMSettings:
    cluster_cidr: str = "10.244.0.0/16"  # kube-controller-manager's usual --cluster-cidr
    node_mask: int = 24  # --node-cidr-mask-size for IPv4: 254 pods per node


def next_free_cidr(cluster_cidr: str, mask: int, used: Iterable[str]) -> str | None:
    """The first /``mask`` of ``cluster_cidr`` that overlaps none of ``used``."""
    cluster = ipaddress.ip_network(cluster_cidr, strict=False)
    taken = []
    for text in used:
        try:
            taken.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    for candidate in cluster.subnets(new_prefix=mask):
        if not any(candidate.overlaps(t) for t in taken if t.version == candidate.version):
            return str(candidate)
    return None


def node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = list(spec.get("podCIDRs") or [])
    if spec.get("podCIDR") and spec["podCIDR"] not in cidrs:
        cidrs.append(spec["podCIDR"])
    return cidrs


class NodeIPAMController:
    name = "nodeipam"

    def __init__(self, ctx: ControllerContext, settings: NodeIPAMSettings | None = None) -> None:
        assert NODES is not None
        self.ctx = ctx
        self.settings = settings or NodeIPAMSettings()
        self.queue = WorkQueue(ctx.backoff, name="nodeipam")
        self.nodes = ctx.informers.informer(NODES)
        self.nodes.add_handler(
            Handler(self._enqueue, lambda _o, n: self._enqueue(n), self._on_delete)
        )
        self._lock = asyncio.Lock()
        self._written: dict[str, str] = {}  # node name -> CIDR written, until the cache has it

    def _enqueue(self, node: Obj) -> None:
        if not node_cidrs(node):
            self.queue.add(object_key(node))

    def _on_delete(self, node: Obj) -> None:
        self._written.pop(node["metadata"]["name"], None)
        for other in self.nodes.list():
            self._enqueue(other)  # a range came free

    async def run(self) -> None:
        await run_workers(self.queue, self.reconcile, workers=self.ctx.workers, name=self.name)

    def _used(self) -> set[str]:
        used: set[str] = set()
        cached = {}
        for node in self.nodes.list():
            cached[node["metadata"]["name"]] = node_cidrs(node)
            used.update(cached[node["metadata"]["name"]])
        for name, cidr in list(self._written.items()):
            if name not in cached or cidr in cached[name]:
                del self._written[name]  # echoed (or the node is gone)
            else:
                used.add(cidr)
        return used

    async def reconcile(self, key: str) -> float | None:
        assert NODES is not None
        async with self._lock:
            node = self.nodes.get(key)
            if node is None or node_cidrs(node) or node["metadata"].get("deletionTimestamp"):
                return None
            name = node["metadata"]["name"]
            if name in self._written:
                return None  # written already; the cache will catch up
            cidr = next_free_cidr(self.settings.cluster_cidr, self.settings.node_mask, self._used())
            if cidr is None:
                await self.ctx.recorder.emit(
                    node,
                    "Warning",
                    "CIDRNotAvailable",
                    f"Node {name} status is now: CIDRNotAvailable",
                )
                return None
            patch = {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            }
            await self.ctx.client.patch(NODES, name, patch)
            self._written[name] = cidr
            log.info("node %s: podCIDR %s", name, cidr)
            return None

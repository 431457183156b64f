"""Keeps the node graph current from the API server's own watch hub.

Ordering is the point (reference/access-control.md section 9: the kubelet
sees a pod, asks for its Secret, and the authorizer has not heard of the pod
yet). The feed is a hub *listener*: the hub calls it with each change before
it queues that change for any watcher, so by the time a node's watch shows
it a pod, the graph already joins the pod to the node and its Secrets.

Start-up: register as listener first, then list every pod from the store
at revision L; changes that arrive meanwhile are held back, and those after
L are applied once the list is in. Nothing between the hub's start and the
list is lost, nothing is applied twice out of order.

Limits: with several API servers on one etcd, a node whose watch is served
by one and whose Secret read goes to another can still race that other's
hub by the few milliseconds it lags the store; the node agent retries.
"""

from __future__ import annotations

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.nodeauth.graph import NodeGraph
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.watchcache import Change, WatchHub

PODS = BUILTIN_TYPES.require("", "Pod")


class GraphFeed:
    def __init__(self, graph: NodeGraph, registry: Registry, hub: WatchHub) -> None:
        self.graph = graph
        self._registry = registry
        self._hub = hub
        self._prefix = PODS.storage_prefix()
        self._held: list[Change] | None = []  # None once the initial list is in
        self._revision = 0

    @property
    def ready(self) -> bool:
        return self._held is None

    async def start(self) -> None:
        """Listen, list, then apply what came in while listing."""
        self._hub.add_listener(self._on_change)
        pods, revision, _ = await self._registry.list(PODS, "")
        self.graph.replace(pods)
        self._revision = revision
        held, self._held = self._held or [], None
        for change in held:
            self._apply(change)

    def _on_change(self, change: Change) -> None:
        if not change.key.startswith(self._prefix):
            return
        if self._held is not None:
            self._held.append(change)
            return
        self._apply(change)

    def _apply(self, change: Change) -> None:
        if change.revision <= self._revision:  # already in the initial list
            return
        if change.type == "DELETE":
            namespace, _, name = change.key[len(self._prefix) :].partition("/")
            self.graph.delete_pod(namespace, name)
        else:
            self.graph.set_pod(change.obj)

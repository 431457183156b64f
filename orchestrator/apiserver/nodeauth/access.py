"""The Node authorizer and NodeRestriction, made and started together for one API server.

``start_node_access`` builds the graph, starts its feed on the server's
watch hub (before the server takes requests: the graph must be complete
when the first node asks) and returns the authorizer, to go first in the
authorizer chain, and the admission plugin, to go first in the admission
chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.apiserver.nodeauth.admission import NodeRestriction
from orchestrator.apiserver.nodeauth.authorizer import NodeAuthorizer
from orchestrator.apiserver.nodeauth.feed import GraphFeed
from orchestrator.apiserver.nodeauth.graph import NodeGraph
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.watchcache import WatchHub


@dataclass(frozen=True)
class NodeAccess:
    graph: NodeGraph
    authorizer: NodeAuthorizer
    admission: NodeRestriction


async def start_node_access(registry: Registry, hub: WatchHub) -> NodeAccess:
    """The graph, fed from ``hub`` and filled from the store, and what answers from it."""
    graph = NodeGraph()
    feed = GraphFeed(graph, registry, hub)
    await feed.start()
    return NodeAccess(graph, NodeAuthorizer(graph, lambda: feed.ready), NodeRestriction(registry))

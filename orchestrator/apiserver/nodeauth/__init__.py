"""Nodes as ``system:node:<name>`` in ``system:nodes``: Kubernetes' Node authorizer and
NodeRestriction admission.

- ``graph``: which pods are bound to which node and what they reference;
- ``feed``: keeps the graph current from the watch hub, ahead of every watcher;
- ``authorizer``: what a node may ask (reads limited to what its pods use);
- ``admission``: what a node may write (its own Node, Lease, pods' status),
  and who may say where a node is (the node itself, ``system:masters``);
- ``access``: the pieces made and started together, for the API server.
"""

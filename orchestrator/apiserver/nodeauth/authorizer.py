"""The Node authorizer: what a node (``system:node:<n>`` in ``system:nodes``) may do.

Kubernetes' ``plugin/pkg/auth/authorizer/node``, on our graph
(``graph.NodeGraph``). It answers only for nodes; everyone else gets
NO_OPINION and RBAC decides. For a node it never says DENY either: what it
does not allow is NO_OPINION with a reason (Kubernetes' words), so a
cluster admin may still grant more through RBAC, and the 403 names why.

- Secrets, ConfigMaps: get, and list/watch by name (``fieldSelector=
  metadata.name=<n>`` gives the request its name), when a pod bound to the
  node references them. PVCs and ServiceAccounts: get, the same way;
  ``persistentvolumeclaims/status`` update/patch; ``serviceaccounts/token``
  create, for accounts of pods bound to the node.
- Leases: its own, in ``kube-node-lease``.
- Nodes: read only its own (``AuthorizeNodeWithSelectors``); create,
  update, patch, delete and ``nodes/status`` are allowed here and limited
  to its own Node by NodeRestriction admission (``admission.py``).
- Pods, pod status and eviction, events, services, reviews: the static
  rules of ClusterRole ``system:node``, which has no subjects of its own
  (Kubernetes grants nodes these through this authorizer). Our node process
  also runs the service proxy under the node's identity, so the rules of
  ``system:node-proxier`` (list/watch Services, Endpoints, EndpointSlices)
  are included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.api.podrefs import (
    CLAIMS,
    CONFIGMAPS,
    SECRETS,
    SERVICE_ACCOUNTS,
    Reference,
)
from orchestrator.apiserver.authz.attributes import Attributes, Decision
from orchestrator.apiserver.identity import NODE_PREFIX, NODES, UserInfo, node_name_of
from orchestrator.apiserver.nodeauth.graph import NodeGraph

LEASE_NAMESPACE = "kube-node-lease"
LEASE_GROUP = "coordination.k8s.io"
READ = frozenset({"get", "list", "watch"})
WRITE_STATUS = frozenset({"update", "patch"})

# (group, resource[/subresource]) -> verbs: ClusterRole system:node's rules for what the
# graph does not decide, plus system:node-proxier's (see the module docstring).
STATIC_RULES: dict[tuple[str, str], frozenset[str]] = {
    ("", "pods"): frozenset({"get", "list", "watch", "create", "delete"}),
    ("", "pods/status"): WRITE_STATUS,
    ("", "pods/eviction"): frozenset({"create"}),
    ("", "nodes"): frozenset({"create", "update", "patch", "delete"}),
    ("", "nodes/status"): WRITE_STATUS,
    ("", "events"): frozenset({"create", "update", "patch"}),
    ("events.k8s.io", "events"): frozenset({"create", "update", "patch"}),
    ("", "services"): READ,
    ("", "endpoints"): READ,
    ("discovery.k8s.io", "endpointslices"): READ,
    ("authentication.k8s.io", "tokenreviews"): frozenset({"create"}),
    ("authorization.k8s.io", "subjectaccessreviews"): frozenset({"create"}),
    ("authorization.k8s.io", "localsubjectaccessreviews"): frozenset({"create"}),
}

Answer = tuple[Decision, str]
NO_OPINION: Answer = (Decision.NO_OPINION, "")
ALLOW: Answer = (Decision.ALLOW, "")


def _no(reason: str) -> Answer:
    return (Decision.NO_OPINION, reason)


class NodeAuthorizer:
    """An ``authz.Authorizer`` answering from ``graph`` (kept current by ``feed.GraphFeed``)."""

    def __init__(self, graph: NodeGraph, ready: Callable[[], bool] = lambda: True) -> None:
        self.graph = graph
        self._ready = ready

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Any], list[str]]:
        """What SelfSubjectRulesReview lists: nothing, and for a node a word on why (Kubernetes)."""
        del namespace
        if node_name_of(user) is None:
            return [], []
        return [], ["node authorizer does not support user rule resolution"]

    def authorize(self, attributes: Attributes) -> Answer:
        user = attributes.user
        node = node_name_of(user)
        if node is None:
            if NODES in user.groups and user.name.startswith(NODE_PREFIX):
                return _no(f'unknown node for user "{user.name}"')
            return NO_OPINION
        if not attributes.resource_request:
            return NO_OPINION
        group, resource = attributes.api_group, attributes.resource
        if group == "":
            if resource in (SECRETS, CONFIGMAPS):
                return self._read_referenced(node, attributes, READ)
            if resource == CLAIMS:
                if attributes.subresource == "status":
                    return self._status_of_referenced(node, attributes)
                return self._read_referenced(node, attributes, frozenset({"get"}))
            if resource == SERVICE_ACCOUNTS:
                if attributes.subresource == "token":
                    return self._create_token(node, attributes)
                return self._read_referenced(node, attributes, frozenset({"get"}))
            if resource == "nodes" and not attributes.subresource:
                if attributes.verb in READ:
                    return self._read_own_node(node, attributes)
        elif group == LEASE_GROUP and resource == "leases":
            return self._lease(node, attributes)
        verbs = STATIC_RULES.get((group, attributes.combined_resource))
        if verbs is not None and attributes.verb in verbs:
            return ALLOW
        return NO_OPINION

    def _reaches(self, node: str, attributes: Attributes) -> Answer:
        if not attributes.name:
            return _no("No Object name found")
        ref = Reference(attributes.resource, attributes.namespace, attributes.name)
        if self.graph.reaches(node, ref):
            return ALLOW
        if not self._ready():
            return _no("node authorizer not yet initialized")
        return _no(f"no relationship found between node '{node}' and this object")

    def _read_referenced(self, node: str, attributes: Attributes, verbs: frozenset[str]) -> Answer:
        if attributes.verb not in verbs:
            if verbs == READ:
                return _no("can only read resources of this type")
            return _no("can only get individual resources of this type")
        if attributes.subresource:
            return _no("cannot read subresource")
        if not attributes.namespace:
            return _no("can only read namespaced object of this type")
        return self._reaches(node, attributes)

    def _status_of_referenced(self, node: str, attributes: Attributes) -> Answer:
        if attributes.verb not in WRITE_STATUS:
            return _no("can only get or update/patch status of this type")
        return self._reaches(node, attributes)

    def _create_token(self, node: str, attributes: Attributes) -> Answer:
        if attributes.verb != "create":
            return _no("can only create tokens for individual service accounts")
        return self._reaches(node, attributes)

    @staticmethod
    def _read_own_node(node: str, attributes: Attributes) -> Answer:
        if attributes.name != node:
            return _no(f"node '{node}' cannot read '{attributes.name}', only its own Node object")
        return ALLOW

    @staticmethod
    def _lease(node: str, attributes: Attributes) -> Answer:
        if attributes.verb not in ("get", "create", "update", "patch", "delete"):
            return _no("can only get, create, update, patch, or delete a node lease")
        if attributes.subresource:
            return _no("cannot access subresource of a node lease")
        if attributes.namespace != LEASE_NAMESPACE:
            return _no(f"can only access leases in the {LEASE_NAMESPACE} namespace")
        # A create names its object in the body, which NodeRestriction checks.
        if attributes.verb != "create" and attributes.name != node:
            return _no("can only access node lease with the same name as the requesting node")
        return ALLOW

"""Which labels a node may set on its own Node (Kubernetes' ``IsKubeletLabel``).

Labels under ``kubernetes.io`` and ``k8s.io`` (and their subdomains) say
things the cluster relies on (placement, isolation); a node may set only
the ones the kubelet itself sets, and those under ``kubelet.kubernetes.io``
and ``node.kubernetes.io``. Under ``node-restriction.kubernetes.io`` a node
may set nothing: that prefix exists so admins can label nodes in a way no
node can claim for itself. Other labels are the node's business.
"""

from __future__ import annotations

from collections.abc import Mapping

KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
    }
)
KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
RESTRICTED = "node-restriction.kubernetes.io"


def _within(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def node_may_set(key: str) -> bool:
    """True when a node may add, change or remove label ``key`` on its own Node."""
    namespace = key.rpartition("/")[0].lower()
    if _within(namespace, RESTRICTED):
        return False
    if not (_within(namespace, "kubernetes.io") or _within(namespace, "k8s.io")):
        return True
    if key in KUBELET_LABELS:
        return True
    return any(_within(namespace, allowed) for allowed in KUBELET_NAMESPACES)


def forbidden_labels(new: Mapping[str, str], old: Mapping[str, str]) -> str:
    """The labels a node changed (added, changed, removed) but may not, comma-separated."""
    changed = {k for k in new.keys() | old.keys() if new.get(k) != old.get(k)}
    return ", ".join(sorted(k for k in changed if not node_may_set(k)))

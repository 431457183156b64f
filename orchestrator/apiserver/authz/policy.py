"""Kubernetes' default roles and bindings, as objects (``bootstrappolicy/policy.go``).

Written here from the reference tables (reference/access-control.md section
3), cut to the kinds this API server serves plus the ones Kubernetes'
roles name that clients may install later. ``admin``, ``edit`` and ``view``
aggregate: their rules come from every ClusterRole labelled
``rbac.authorization.k8s.io/aggregate-to-<role>: "true"`` (the
``system:aggregate-to-*`` roles here, and any a platform adds for its own
kinds), so view is within edit and edit within admin.

Every object carries the bootstrapping label and the autoupdate
annotation; ``bootstrap.reconcile`` rewrites them at each start unless the
annotation was set to ``"false"``.
"""

from __future__ import annotations

from typing import Any

R = ["get", "list", "watch"]
W = ["create", "delete", "deletecollection", "patch", "update"]
RW = R + W
GROUP = "rbac.authorization.k8s.io"
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


def rule(verbs: list[str], groups: list[str], resources: list[str], **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": list(verbs), "apiGroups": list(groups), "resources": resources}
    if kw.get("names"):
        out["resourceNames"] = list(kw["names"])
    return out


def urls(verbs: list[str], paths: list[str]) -> dict[str, Any]:
    return {"verbs": list(verbs), "nonResourceURLs": list(paths)}


def cluster_role(
    name: str,
    rules: list[dict[str, Any]],
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
            "annotations": {AUTOUPDATE: "true"},
        },
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {f"{AGGREGATE}{aggregate_from}": "true"}}]
        }
    return role


def binding(
    name: str, role: str, subjects: list[tuple[str, str]], namespace: str = ""
) -> dict[str, Any]:
    """A ClusterRoleBinding (or, with ``namespace``, a RoleBinding of a Role) to Users/Groups."""
    meta: dict[str, Any] = {
        "name": name,
        "labels": dict(BOOTSTRAP_LABELS),
        "annotations": {AUTOUPDATE: "true"},
    }
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": GROUP,
            "kind": "Role" if namespace else "ClusterRole",
            "name": role,
        },
        "subjects": [{"kind": kind, "apiGroup": GROUP, "name": who} for kind, who in subjects],
    }


REVIEWS = rule(["create"], ["authentication.k8s.io"], ["tokenreviews"])
ACCESS_REVIEWS = rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"])
EVENTS = rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"])

_VIEW = [
    rule(
        R,
        [""],
        [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "pods/log",
            "pods/status",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "replicationcontrollers/status",
            "serviceaccounts",
            "services",
            "services/status",
        ],
    ),
    rule(
        R,
        [""],
        [
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ],
    ),
    rule(R, [""], ["namespaces"]),
    rule(R, ["discovery.k8s.io"], ["endpointslices"]),
    rule(
        R,
        ["apps"],
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
    ),
    rule(
        R,
        ["autoscaling"],
        ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
    ),
    rule(R, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    rule(R, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(
        R,
        ["networking.k8s.io"],
        ["ingresses", "ingresses/status", "networkpolicies"],
    ),
]

_EDIT = [
    rule(["impersonate"], [""], ["serviceaccounts"]),
    rule(
        W,
        [""],
        [
            "pods",
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
        ],
    ),
    rule(["create"], [""], ["pods/eviction"]),
    rule(
        W,
        [""],
        [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
    ),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(
        W,
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
    ),
    rule(W, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(W, ["batch"], ["cronjobs", "jobs"]),
    rule(W, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    rule(W, ["policy"], ["poddisruptionbudgets"]),
    rule(RW, ["coordination.k8s.io"], ["leases"]),
    rule(
        R,
        [""],
        [
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
            "secrets",
            "services/proxy",
        ],
    ),
]

_ADMIN = [
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(RW, [GROUP], ["rolebindings", "roles"]),
]

_DISCOVERY_URLS = [
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
]
_PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

_NODE = [
    REVIEWS,
    ACCESS_REVIEWS,
    rule(R, [""], ["services"]),
    rule(["create", "get", "list", "watch"], [""], ["nodes"]),
    rule(["patch", "update"], [""], ["nodes/status"]),
    rule(["patch", "update"], [""], ["nodes"]),
    EVENTS,
    rule(R, [""], ["pods"]),
    rule(["create", "delete"], [""], ["pods"]),
    rule(["patch", "update"], [""], ["pods/status"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(R, [""], ["configmaps", "secrets"]),
    rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes"]),
    rule(["get"], [""], ["endpoints"]),
    rule(["update", "patch"], [""], ["persistentvolumeclaims/status"]),
    rule(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
]

_NODE_PROXIER = [
    rule(["list", "watch"], [""], ["endpoints", "services"]),
    rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
    rule(R, [""], ["nodes"]),
    EVENTS,
]

_SCHEDULER = [
    EVENTS,
    rule(["create"], ["coordination.k8s.io"], ["leases"]),
    rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-scheduler"]),
    rule(["delete", "get", "list", "watch"], [""], ["pods"]),
    rule(["create"], [""], ["bindings", "pods/binding"]),
    rule(["patch", "update"], [""], ["pods/status"]),
    rule(R, [""], ["nodes", "namespaces", "services", "replicationcontrollers"]),
    rule(R, [""], ["persistentvolumeclaims", "persistentvolumes"]),
    rule(R, ["apps"], ["replicasets", "statefulsets"]),
    rule(R, ["policy"], ["poddisruptionbudgets"]),
    REVIEWS,
    ACCESS_REVIEWS,
]

_CONTROLLER_MANAGER = [
    EVENTS,
    rule(["create"], ["coordination.k8s.io"], ["leases"]),
    rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-controller-manager"]),
    rule(["create"], [""], ["secrets", "serviceaccounts"]),
    rule(["delete"], [""], ["secrets"]),
    rule(["get"], [""], ["configmaps", "namespaces", "secrets", "serviceaccounts"]),
    rule(["update"], [""], ["secrets", "serviceaccounts"]),
    rule(["list", "watch"], ["*"], ["*"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
    # The horizontal pod autoscaler: its status, any target's scale, the pods' metrics.
    rule(["get"], ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(["update"], ["autoscaling"], ["horizontalpodautoscalers/status"]),
    rule(["get", "update"], ["*"], ["*/scale"]),
    rule(["list"], ["metrics.k8s.io"], ["pods"]),
    REVIEWS,
    ACCESS_REVIEWS,
]


def cluster_roles() -> list[dict[str, Any]]:
    return [
        cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]),
        cluster_role("admin", [], {f"{AGGREGATE}admin": "true"}, aggregate_from="admin"),
        cluster_role("edit", [], {f"{AGGREGATE}admin": "true"}, aggregate_from="edit"),
        cluster_role("view", [], {f"{AGGREGATE}edit": "true"}, aggregate_from="view"),
        cluster_role("system:aggregate-to-admin", _ADMIN, {f"{AGGREGATE}admin": "true"}),
        cluster_role("system:aggregate-to-edit", _EDIT, {f"{AGGREGATE}edit": "true"}),
        cluster_role("system:aggregate-to-view", _VIEW, {f"{AGGREGATE}view": "true"}),
        # metrics-server's role: whoever can view a namespace can `kubectl top` it.
        cluster_role(
            "system:aggregated-metrics-reader",
            [rule(R, ["metrics.k8s.io"], ["pods", "nodes"])],
            {f"{AGGREGATE}{role}": "true" for role in ("view", "edit", "admin")},
        ),
        cluster_role(
            "system:basic-user",
            [
                rule(
                    ["create"],
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
            ],
        ),
        cluster_role("system:discovery", [urls(["get"], _DISCOVERY_URLS)]),
        cluster_role("system:public-info-viewer", [urls(["get"], _PUBLIC_URLS)]),
        cluster_role("system:auth-delegator", [REVIEWS, ACCESS_REVIEWS]),
        cluster_role(
            "system:monitoring",
            [
                urls(
                    ["get"],
                    [
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ],
                )
            ],
        ),
        # Everything a node agent serves, through nodes/NAME/proxy too; bound to nobody.
        cluster_role(
            "system:kubelet-api-admin",
            [
                rule(["get", "list", "watch", "proxy"], [""], ["nodes"]),
                rule(["*"], [""], ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"]),
            ],
        ),
        cluster_role("system:kube-scheduler", _SCHEDULER),
        cluster_role("system:kube-controller-manager", _CONTROLLER_MANAGER),
        cluster_role("system:node-proxier", _NODE_PROXIER),
        cluster_role("system:node", _NODE),
    ]


def cluster_role_bindings() -> list[dict[str, Any]]:
    return [
        binding("cluster-admin", "cluster-admin", [("Group", "system:masters")]),
        binding("system:basic-user", "system:basic-user", [("Group", "system:authenticated")]),
        binding("system:discovery", "system:discovery", [("Group", "system:authenticated")]),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [("Group", "system:authenticated"), ("Group", "system:unauthenticated")],
        ),
        binding("system:monitoring", "system:monitoring", [("Group", "system:monitoring")]),
        binding(
            "system:kube-scheduler", "system:kube-scheduler", [("User", "system:kube-scheduler")]
        ),
        binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            [("User", "system:kube-controller-manager")],
        ),
        binding("system:node-proxier", "system:node-proxier", [("User", "system:kube-proxy")]),
        # Bound to nobody, as on Kubernetes since 1.8: the Node authorizer (nodeauth/) holds
        # each node to its own Node and the objects its pods use.
        binding("system:node", "system:node", []),
    ]


def defaults() -> list[dict[str, Any]]:
    """Every default object, ClusterRoles before the bindings that name them."""
    return [*cluster_roles(), *cluster_role_bindings()]

"""What each platform component may do: RBAC roles and bindings, applied by ``paas up``.

Each component authenticates as its own user (``paas/up/datadir.py``); these
roles give each exactly what it was seen to use. They were derived from a
run of the platform (a push, an Ingress, a Knative Service scaled to zero
and woken, a 90/10 split, a preview woken from zero) with every request's
user, verb, group, resource and namespace recorded by the API server, then
checked against each component's code for the paths that run seldom
(deleting a branch, root mode's DNS Service, a first start's namespaces).

- ``system:kube-scheduler`` and ``system:kube-controller-manager`` keep
  Kubernetes' own ClusterRoles (the bootstrap policy). Ours add what
  Kubernetes gives elsewhere: the leases they lead with are named
  ``paas-scheduler`` and ``paas-controller-manager`` (Kubernetes' roles name
  ``kube-scheduler``...), and our controller-manager runs every loop under
  its one identity, so it holds the rights Kubernetes gives the loops'
  ``system:controller:*`` roles (the garbage collector's and the namespace
  controller's ``*.*``, and creating pods, ReplicaSets, Jobs, Endpoints).
- ``system:paas:<component>`` for ours: a ClusterRole and a
  ClusterRoleBinding to the user of the same name.
- Leader election: a Role and RoleBinding in ``kube-system`` per leading
  component, for its own Lease only, as Kubernetes'
  ``system::leader-locking-kube-scheduler``.
- The DNS's rights are CoreDNS's (``system:coredns``), plus, in
  ``kube-system``, the ``kube-dns`` Service and Endpoints it publishes.
- Metrics: every component that serves ``/metrics`` on a port of its own
  asks the API who may read it (TokenReview, SubjectAccessReview), so each
  may create both reviews (``DELEGATED``: ``system:auth-delegator``'s rules;
  the scheduler's and the controller-manager's Kubernetes roles have them);
  the autoscaler may read the routers' ``/metrics`` and ``/signals``.
  ``monitoring_roles``: the group ``system:monitoring``, which reads every
  ``/metrics`` path, may also read the node agents' (``nodes/metrics``,
  ``nodes/stats``), as a Prometheus needs on Kubernetes.

The node (kubelet and its service proxy) is not here: the Node authorizer
decides for ``system:node:<name>``. ``paas up`` applies these with
server-side apply at every start, so an upgrade's roles replace the old.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.rest import APIClient

RBAC = "rbac.authorization.k8s.io"
API_VERSION = f"{RBAC}/v1"
LEADER_NAMESPACE = "kube-system"  # where our components' Leases live (orchestrator/client/leader)

READ = ("get", "list", "watch")
LIST_WATCH = ("list", "watch")
EDIT = ("get", "list", "watch", "create", "update", "patch", "delete")
EVENTS = ("create", "patch", "update")  # Kubernetes' event recorder rule

Rule = dict[str, Any]


def rule(group: str | tuple[str, ...], resources: tuple[str, ...], verbs: tuple[str, ...]) -> Rule:
    groups = (group,) if isinstance(group, str) else group
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


def named(rule_: Rule, *names: str) -> Rule:
    return {**rule_, "resourceNames": list(names)}


KNATIVE = "serving.knative.dev"
GATEWAY = "gateway.networking.k8s.io"
PAAS = "paas.dev"

# system:auth-delegator's rules: a component serving /metrics asks the API who may read them
DELEGATED = [
    rule("authentication.k8s.io", ("tokenreviews",), ("create",)),
    rule("authorization.k8s.io", ("subjectaccessreviews",), ("create",)),
]

# user -> the rules of its ClusterRole (named as the user, or system:paas:<x> for Kubernetes' users)
CLUSTER_RULES: dict[str, list[Rule]] = {
    "system:kube-controller-manager": [
        # the garbage collector and the namespace controller touch every kind (Kubernetes'
        # system:controller:generic-garbage-collector and :namespace-controller)
        rule("*", ("*",), (*READ, "update", "patch", "delete", "deletecollection")),
        rule("", ("pods", "endpoints"), ("create",)),  # replicaset and job; endpoints
        rule("", ("events",), EVENTS),
        rule("apps", ("replicasets",), ("create",)),  # deployment
        rule("batch", ("jobs",), ("create",)),  # cronjob
    ],
    "system:kube-scheduler": [],  # Kubernetes' role is enough; its Lease is below
    "system:paas:dns": [
        *DELEGATED,  # its /metrics port
        rule("", ("endpoints", "services", "pods", "namespaces"), LIST_WATCH),
        rule("discovery.k8s.io", ("endpointslices",), LIST_WATCH),
    ],
    "system:paas:router": [
        *DELEGATED,  # its /metrics port
        rule("", ("services", "endpoints"), READ),
        rule("networking.k8s.io", ("ingresses", "ingressclasses"), READ),
        rule("networking.k8s.io", ("ingresses/status",), ("update", "patch")),
        rule("networking.k8s.io", ("ingressclasses",), ("create",)),  # the default class paas
        rule(GATEWAY, ("gatewayclasses", "gateways", "httproutes"), READ),
        rule(
            GATEWAY,
            ("gatewayclasses/status", "gateways/status", "httproutes/status"),
            ("update", "patch"),
        ),
        rule(GATEWAY, ("gatewayclasses", "gateways"), ("create",)),  # GatewayClass and Gateway paas
        rule("", ("namespaces",), ("create",)),  # paas-system, on a first start
    ],
    "system:paas:builder": [
        rule("authentication.k8s.io", ("tokenreviews",), ("create",)),  # who pushes
        rule("authorization.k8s.io", ("subjectaccessreviews",), ("create",)),  # may they push
        rule("", ("namespaces",), ("get",)),
        rule("", ("pods",), LIST_WATCH),  # a release phase's pod, for its log
        rule("", ("pods/log",), ("get",)),
        rule(PAAS, ("apps",), ("get", "list", "watch", "create")),  # a first push creates one
        rule(PAAS, ("builds",), EDIT),
        rule(PAAS, ("builds/status",), ("update", "patch")),
        # deleting a branch (git push :branch) deletes its objects
        rule(KNATIVE, ("services",), ("list", "delete")),
        rule(GATEWAY, ("httproutes",), ("list", "delete")),
        rule("apps", ("deployments",), ("list", "delete")),
        rule("", ("services",), ("list", "delete")),
        rule("networking.k8s.io", ("ingresses",), ("list", "delete")),
        rule("batch", ("jobs",), ("list", "delete")),
        named(rule("coordination.k8s.io", ("leases",), ("get",)), "paas-app-controller"),
    ],
    "system:paas:app-controller": [
        *DELEGATED,  # its /metrics port
        rule(PAAS, ("apps", "builds"), READ),
        rule(PAAS, ("apps/status", "builds/status"), ("update", "patch")),
        rule("", ("secrets",), READ),  # an app's config (paas config set)
        rule(KNATIVE, ("services",), EDIT),
        rule(KNATIVE, ("revisions",), READ),
        rule(GATEWAY, ("httproutes",), EDIT),
        rule("apps", ("deployments",), EDIT),
        rule("", ("services",), EDIT),
        rule("networking.k8s.io", ("ingresses",), EDIT),
        rule("batch", ("jobs",), EDIT),  # release phases
    ],
    "system:paas:serving-controller": [
        *DELEGATED,  # its /metrics port
        rule(KNATIVE, ("services", "configurations", "routes", "revisions"), EDIT),
        rule(
            KNATIVE,
            ("services/status", "configurations/status", "routes/status", "revisions/status"),
            ("update", "patch"),
        ),
        rule("apps", ("deployments",), EDIT),
        rule("", ("services",), EDIT),
        rule("", ("pods",), LIST_WATCH),
        rule(GATEWAY, ("httproutes",), EDIT),
        rule("", ("namespaces",), ("create",)),  # paas-system, for its webhook's Service
        # its own admission webhook, registered by server-side apply
        named(
            rule("admissionregistration.k8s.io", ("mutatingwebhookconfigurations",), EDIT),
            "webhook.serving.knative.dev",
        ),
        named(
            rule("admissionregistration.k8s.io", ("validatingwebhookconfigurations",), EDIT),
            "validation.webhook.serving.knative.dev",
        ),
    ],
    "system:paas:autoscaler": [
        *DELEGATED,  # its /metrics port
        # the routers' metrics port: their counters and held-request signals
        {"nonResourceURLs": ["/metrics", "/signals"], "verbs": ["get"]},
        rule(KNATIVE, ("revisions", "configurations", "routes"), READ),
        rule("apps", ("deployments",), ("get", "list", "watch", "patch")),  # its replicas
        rule("", ("events",), EVENTS),
    ],
}

# (namespace, user) -> rules of a Role there (named as the ClusterRole), for what lives in one place
NAMESPACED_RULES: dict[tuple[str, str], list[Rule]] = {
    ("paas-system", "system:paas:router"): [
        # it publishes itself as the Endpoints of Service paas-router (the autoscaler reads them)
        rule("", ("services", "endpoints"), ("create",)),
        named(rule("", ("services", "endpoints"), ("get", "update", "patch")), "paas-router"),
    ],
    ("paas-system", "system:paas:serving-controller"): [
        # the Endpoints of its webhook's Service (the Service itself: its ClusterRole's)
        rule("", ("endpoints",), ("create",)),
        named(rule("", ("endpoints",), ("get", "update", "patch")), "paas-serving-webhook"),
    ],
    ("paas-system", "system:paas:autoscaler"): [
        named(rule("", ("endpoints",), ("get",)), "paas-router"),  # where the routers are
    ],
    (LEADER_NAMESPACE, "system:paas:dns"): [
        # root mode: the cluster DNS publishes itself as Service kube-system/kube-dns
        rule("", ("services", "endpoints"), ("create",)),
        named(rule("", ("services", "endpoints"), ("get", "update", "patch")), "kube-dns"),
    ],
}

MONITORING_GROUP = "system:monitoring"
MONITORING_ROLE = "system:paas:monitoring"  # what a scraper reads beyond /metrics paths

# user -> the Lease it leads with in kube-system
LEASES = {
    "system:kube-scheduler": "paas-scheduler",
    "system:kube-controller-manager": "paas-controller-manager",
    "system:paas:app-controller": "paas-app-controller",
    "system:paas:serving-controller": "paas-serving-controller",
    "system:paas:autoscaler": "paas-autoscaler",
}


def role_name(user: str) -> str:
    """Ours never reuse a Kubernetes role's name: ``system:kube-scheduler`` gets
    ``system:paas:kube-scheduler``; ``system:paas:router`` keeps its own."""
    return user if user.startswith("system:paas:") else "system:paas:" + user.split(":", 1)[1]


def _user(name: str) -> dict[str, str]:
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def _pair(kind: str, name: str, namespace: str, rules: list[Rule], user: str) -> list[Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"paas.dev/platform-role": "true"}}
    if namespace:
        meta["namespace"] = namespace
    role = {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "rules": rules}
    binding = {
        "apiVersion": API_VERSION,
        "kind": f"{kind}Binding",
        "metadata": dict(meta),
        "roleRef": {"apiGroup": RBAC, "kind": kind, "name": name},
        "subjects": [_user(user)],
    }
    return [role, binding]


def platform_roles() -> list[dict[str, Any]]:
    """Every Role, ClusterRole and binding of the components, roles before their bindings."""
    out: list[dict[str, Any]] = []
    for user, rules in CLUSTER_RULES.items():
        if rules:
            out += _pair("ClusterRole", role_name(user), "", rules, user)
    for (namespace, user), rules in NAMESPACED_RULES.items():
        out += _pair("Role", role_name(user), namespace, rules, user)
    for user, lease in LEASES.items():
        rules = [
            rule("coordination.k8s.io", ("leases",), ("create",)),
            named(rule("coordination.k8s.io", ("leases",), ("get", "update", "patch")), lease),
        ]
        name = "system:paas:leader-locking-" + lease.removeprefix("paas-")
        out += _pair("Role", name, LEADER_NAMESPACE, rules, user)
    return out


def monitoring_roles() -> list[dict[str, Any]]:
    """The node agents' metrics and stats for the group ``system:monitoring`` (a scraper)."""
    role, binding = _pair(
        "ClusterRole",
        MONITORING_ROLE,
        "",
        [rule("", ("nodes/metrics", "nodes/stats"), ("get",))],
        "",
    )
    binding["subjects"] = [{"kind": "Group", "apiGroup": RBAC, "name": MONITORING_GROUP}]
    return [role, binding]


RBAC_TYPES = {
    kind: ResourceType(RBAC, "v1", kind, plural, namespaced)
    for kind, plural, namespaced in (
        ("ClusterRole", "clusterroles", False),
        ("ClusterRoleBinding", "clusterrolebindings", False),
        ("Role", "roles", True),
        ("RoleBinding", "rolebindings", True),
    )
}
NAMESPACES = BUILTIN_TYPES.require("", "Namespace")
FIELD_MANAGER = "paas-up"


async def apply_roles(client: APIClient, objects: list[dict[str, Any]]) -> bool:
    """Apply ``objects`` (server-side apply, forced); False when the API serves no RBAC.

    The namespaces they live in are made first (a Role cannot be written in a
    namespace that does not exist; the components would make it only later).
    """
    try:
        await client.request("GET", f"/apis/{API_VERSION}")
    except errors.NotFound:
        return False
    for namespace in sorted({o["metadata"].get("namespace", "") for o in objects} - {""}):
        try:
            await client.create(
                NAMESPACES,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
        except errors.AlreadyExists:
            pass
    for obj in objects:
        meta = obj["metadata"]
        await client.patch(
            RBAC_TYPES[obj["kind"]],
            meta["name"],
            obj,
            meta.get("namespace", ""),
            patch_type="application/apply-patch+yaml",
            fieldManager=FIELD_MANAGER,
            force="true",
        )
    return True

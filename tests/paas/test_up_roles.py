"""The components' roles (paas/up/roles.py): each allows what its component was seen to do.

``USED`` is what a recorded run of the platform (a push, an Ingress, a Knative
Service scaled to zero and woken, a split, a preview woken) showed each
component asking for, plus the seldom paths read from the code; every row
must be allowed by that user's rules, and a few things no component needs
must not be. The matcher below is RBAC's rule semantics (verbs, API groups,
``resource/subresource``, ``*``, resourceNames), enough to check the data.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.apiserver import RunningAPI

from orchestrator.api import errors
from orchestrator.client.rest import APIClient
from paas.up.datadir import COMPONENT_USERS
from paas.up.roles import (
    LEADER_NAMESPACE,
    RBAC,
    RBAC_TYPES,
    apply_roles,
    platform_roles,
    role_name,
)

# user, verb, group, resource[/subresource], namespace, name ("" = any / a collection)
USED = [
    # components serving /metrics ask the API who may read it (orchestrator.metrics.delegated)
    *(
        (user, "create", group, review, "", "")
        for user in (
            "system:paas:dns",
            "system:paas:router",
            "system:paas:app-controller",
            "system:paas:serving-controller",
            "system:paas:autoscaler",
            "system:paas:builder",
        )
        for group, review in (
            ("authentication.k8s.io", "tokenreviews"),
            ("authorization.k8s.io", "subjectaccessreviews"),
        )
    ),
    ("system:paas:dns", "list", "", "services", "", ""),
    ("system:paas:dns", "watch", "", "endpoints", "", ""),
    ("system:paas:dns", "watch", "", "pods", "", ""),
    ("system:paas:dns", "list", "discovery.k8s.io", "endpointslices", "", ""),
    ("system:paas:dns", "update", "", "endpoints", "kube-system", "kube-dns"),
    ("system:paas:dns", "create", "", "services", "kube-system", ""),
    ("system:paas:router", "watch", "networking.k8s.io", "ingresses", "", ""),
    ("system:paas:router", "update", "networking.k8s.io", "ingresses/status", "kube-system", "x"),
    ("system:paas:router", "create", "networking.k8s.io", "ingressclasses", "", ""),
    ("system:paas:router", "update", "gateway.networking.k8s.io", "httproutes/status", "a", "b"),
    ("system:paas:router", "create", "gateway.networking.k8s.io", "gateways", "paas-system", ""),
    ("system:paas:router", "create", "", "namespaces", "", ""),
    ("system:paas:router", "create", "", "services", "paas-system", ""),
    ("system:paas:router", "update", "", "endpoints", "paas-system", "paas-router"),
    ("system:paas:builder", "create", "authentication.k8s.io", "tokenreviews", "", ""),
    ("system:paas:builder", "create", "paas.dev", "apps", "default", ""),
    ("system:paas:builder", "patch", "paas.dev", "builds/status", "default", "b"),
    ("system:paas:builder", "get", "", "pods/log", "default", "release"),
    ("system:paas:builder", "delete", "serving.knative.dev", "services", "default", "x"),
    (
        "system:paas:builder",
        "get",
        "coordination.k8s.io",
        "leases",
        "kube-system",
        "paas-app-controller",
    ),
    ("system:paas:app-controller", "create", "serving.knative.dev", "services", "default", ""),
    ("system:paas:app-controller", "create", "batch", "jobs", "default", ""),
    ("system:paas:app-controller", "watch", "", "secrets", "", ""),
    ("system:paas:app-controller", "patch", "paas.dev", "apps/status", "default", "shop"),
    ("system:paas:app-controller", "delete", "apps", "deployments", "default", "shop"),
    ("system:paas:serving-controller", "create", "apps", "deployments", "default", ""),
    (
        "system:paas:serving-controller",
        "update",
        "serving.knative.dev",
        "revisions/status",
        "d",
        "r",
    ),
    (
        "system:paas:serving-controller",
        "patch",
        "",
        "services",
        "paas-system",
        "paas-serving-webhook",
    ),
    (
        "system:paas:serving-controller",
        "patch",
        "",
        "endpoints",
        "paas-system",
        "paas-serving-webhook",
    ),
    (
        "system:paas:serving-controller",
        "patch",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        "",
        "webhook.serving.knative.dev",
    ),
    ("system:paas:autoscaler", "patch", "apps", "deployments", "default", "echo-00001-deployment"),
    ("system:paas:autoscaler", "get", "", "endpoints", "paas-system", "paas-router"),
    ("system:paas:autoscaler", "create", "", "events", "default", ""),
    ("system:paas:autoscaler", "watch", "serving.knative.dev", "revisions", "", ""),
    *(
        (user, verb, "coordination.k8s.io", "leases", LEADER_NAMESPACE, lease)
        for user, lease in [
            ("system:kube-scheduler", "paas-scheduler"),
            ("system:kube-controller-manager", "paas-controller-manager"),
            ("system:paas:app-controller", "paas-app-controller"),
            ("system:paas:serving-controller", "paas-serving-controller"),
            ("system:paas:autoscaler", "paas-autoscaler"),
        ]
        for verb in ("get", "update")
    ),
    # our controller-manager runs every loop as itself (no per-loop service accounts)
    ("system:kube-controller-manager", "create", "", "pods", "default", ""),
    ("system:kube-controller-manager", "create", "apps", "replicasets", "default", ""),
    ("system:kube-controller-manager", "update", "apps", "deployments/status", "default", "d"),
    ("system:kube-controller-manager", "delete", "paas.dev", "builds", "default", "b"),
    ("system:kube-controller-manager", "update", "", "namespaces/finalize", "", "gone"),
    ("system:kube-controller-manager", "patch", "", "nodes", "", "n"),
]

NEVER = [
    ("system:paas:dns", "get", "", "secrets", "default", "s"),
    ("system:paas:router", "list", "", "secrets", "", ""),
    ("system:paas:router", "delete", "", "endpoints", "paas-system", "other"),
    ("system:paas:autoscaler", "delete", "apps", "deployments", "default", "d"),
    ("system:paas:autoscaler", "get", "", "endpoints", "default", "paas-router"),
    ("system:paas:builder", "create", "", "pods", "default", ""),
    ("system:paas:builder", "delete", "paas.dev", "apps", "default", "shop"),
    (
        "system:paas:serving-controller",
        "patch",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "",
        "other",
    ),
    ("system:paas:serving-controller", "get", "", "secrets", "default", "s"),
    ("system:paas:app-controller", "create", "", "pods", "default", ""),
    (
        "system:paas:app-controller",
        "create",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "",
        "",
    ),
    ("system:kube-scheduler", "delete", "", "namespaces", "", "default"),
]


def _matches(rule: dict[str, Any], verb: str, group: str, resource: str, name: str) -> bool:
    base, _, sub = resource.partition("/")
    resources = rule.get("resources") or []
    resource_ok = (
        "*" in resources or resource in resources or (sub != "" and f"*/{sub}" in resources)
    )
    names = rule.get("resourceNames") or []
    return (
        ("*" in rule["verbs"] or verb in rule["verbs"])
        and ("*" in rule.get("apiGroups", []) or group in rule.get("apiGroups", []))
        and resource_ok
        and (not names or name in names)
        and bool(base)
    )


def allowed(user: str, verb: str, group: str, resource: str, namespace: str, name: str) -> bool:
    objects = platform_roles()
    roles = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects
    }
    for binding in (o for o in objects if o["kind"].endswith("Binding")):
        if {"kind": "User", "apiGroup": RBAC, "name": user} not in binding["subjects"]:
            continue
        where = binding["metadata"].get("namespace", "")
        if where and where != namespace:
            continue
        ref = binding["roleRef"]
        role = roles[(ref["kind"], where if ref["kind"] == "Role" else "", ref["name"])]
        if any(_matches(r, verb, group, resource, name) for r in role["rules"]):
            return True
    return False


@pytest.mark.parametrize("used", USED, ids=lambda u: " ".join(x for x in u if x))
def test_each_component_may_do_what_it_was_seen_doing(used: tuple[str, ...]) -> None:
    assert allowed(*used)


@pytest.mark.parametrize("never", NEVER, ids=lambda u: " ".join(x for x in u if x))
def test_no_component_may_do_what_it_never_needs(never: tuple[str, ...]) -> None:
    assert not allowed(*never)


def test_every_binding_names_an_existing_role_and_a_component_user() -> None:
    objects = platform_roles()
    roles = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects
    }
    users = set(COMPONENT_USERS.values())
    for binding in (o for o in objects if o["kind"].endswith("Binding")):
        ref = binding["roleRef"]
        assert (ref["kind"], binding["metadata"].get("namespace", ""), ref["name"]) in roles
        assert {s["name"] for s in binding["subjects"]} <= users
        assert binding["metadata"]["name"].startswith("system:paas:")


def test_kubernetes_own_role_names_are_left_to_its_bootstrap_policy() -> None:
    names = {o["metadata"]["name"] for o in platform_roles()}
    assert not names & {"system:kube-scheduler", "system:kube-controller-manager", "system:node"}
    assert role_name("system:kube-scheduler") == "system:paas:kube-scheduler"
    assert role_name("system:paas:router") == "system:paas:router"


async def test_paas_up_applies_the_roles_where_the_api_serves_rbac(sqlite_api: RunningAPI) -> None:
    """Applied twice (every start) where RBAC is served; a plain False (and nothing) where not."""
    async with APIClient(sqlite_api.client_config()) as client:
        try:
            await client.request("GET", "/apis/rbac.authorization.k8s.io/v1")
            served = True
        except errors.NotFound:
            served = False
        assert await apply_roles(client, platform_roles()) is served
        assert await apply_roles(client, platform_roles()) is served
        if not served:
            return
        for obj in platform_roles():
            meta = obj["metadata"]
            stored = await client.get(
                RBAC_TYPES[obj["kind"]], meta["name"], meta.get("namespace", "")
            )
            assert stored.get("rules") == obj.get("rules")
            assert stored.get("subjects") == obj.get("subjects")

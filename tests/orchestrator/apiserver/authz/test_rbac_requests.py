"""Who may do what: users x verbs x resources against a real API server with RBAC.

One server for the module, with Kubernetes' default roles and a few
bindings: alice edits ``dev``, victor views ``dev``, carol may read one
ConfigMap by name, paula may get pods but not their logs, dan may read
``/metrics``, and tom administers ``team``. Each row is one HTTP request by
one user and whether RBAC lets it through (anything but 403) or refuses it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.apiserver import RunningAPI, start_api
from support.rbac import allowed_by_review
from support.wait import wait_until

from orchestrator.apiserver.auth import add_token

RBAC = "/apis/rbac.authorization.k8s.io/v1"
GROUP = "rbac.authorization.k8s.io"
USERS = ("alice", "victor", "carol", "paula", "dan", "tom", "nobody")


def role_binding(name: str, role_kind: str, role: str, user: str) -> dict:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role},
        "subjects": [{"kind": "User", "apiGroup": GROUP, "name": user}],
    }


@pytest.fixture(scope="module")
def policy() -> Iterator[tuple[RunningAPI, dict[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        api = start_api(Path(tmp) / "api")
        try:
            tokens = {
                user: add_token(api.data_dir / "tokens.json", user=user, groups=["staff"])
                for user in USERS
            }
            with api.http() as admin:
                for ns in ("dev", "prod", "team"):
                    admin.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
                for ns in ("dev", "prod"):
                    admin.post(
                        f"/api/v1/namespaces/{ns}/secrets",
                        json={"metadata": {"name": "db"}, "stringData": {"pw": "x"}},
                    )
                admin.post(
                    "/api/v1/namespaces/dev/configmaps",
                    json={"metadata": {"name": "app-config"}, "data": {"a": "1"}},
                )
                writes = [
                    (
                        f"{RBAC}/namespaces/dev/rolebindings",
                        role_binding("alice-edit", "ClusterRole", "edit", "alice"),
                    ),
                    (
                        f"{RBAC}/namespaces/dev/rolebindings",
                        role_binding("victor-view", "ClusterRole", "view", "victor"),
                    ),
                    (
                        f"{RBAC}/namespaces/team/rolebindings",
                        role_binding("tom-admin", "ClusterRole", "admin", "tom"),
                    ),
                    (
                        f"{RBAC}/namespaces/dev/roles",
                        {
                            "metadata": {"name": "one-config"},
                            "rules": [
                                {
                                    "verbs": ["get", "list", "watch"],
                                    "apiGroups": [""],
                                    "resources": ["configmaps"],
                                    "resourceNames": ["app-config"],
                                }
                            ],
                        },
                    ),
                    (
                        f"{RBAC}/namespaces/dev/rolebindings",
                        role_binding("carol-one", "Role", "one-config", "carol"),
                    ),
                    (
                        f"{RBAC}/namespaces/dev/roles",
                        {
                            "metadata": {"name": "pod-reader"},
                            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
                        },
                    ),
                    (
                        f"{RBAC}/namespaces/dev/rolebindings",
                        role_binding("paula-pods", "Role", "pod-reader", "paula"),
                    ),
                    (
                        f"{RBAC}/clusterroles",
                        {
                            "metadata": {"name": "metrics-reader"},
                            "rules": [
                                {"verbs": ["get"], "nonResourceURLs": ["/metrics", "/logs/*"]}
                            ],
                        },
                    ),
                    (
                        f"{RBAC}/clusterrolebindings",
                        role_binding("dan-metrics", "ClusterRole", "metrics-reader", "dan"),
                    ),
                ]
                for path, body in writes:
                    r = admin.post(path, json=body)
                    assert r.status_code == 201, r.text
                # The index follows a watch: once the last binding applies, all earlier ones have.
                wait_until(
                    lambda: (
                        allowed_by_review(admin, "dan", {"verb": "list", "resource": "x"}) is False
                        and _dan_ready(admin)
                    )
                )
                # admin aggregates edit, which aggregates view: wait until the chain settled.
                wait_until(
                    lambda: allowed_by_review(
                        admin,
                        "tom",
                        {
                            "verb": "get",
                            "resource": "pods",
                            "subresource": "log",
                            "namespace": "team",
                        },
                    )
                )
            yield api, tokens
        finally:
            api.stop()


def _dan_ready(admin: httpx.Client) -> bool:
    review = {
        "kind": "SubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "spec": {"user": "dan", "nonResourceAttributes": {"path": "/metrics", "verb": "get"}},
    }
    r = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
    return bool(r.json()["status"]["allowed"])


DEPLOYMENT = {
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "paas/stack:bookworm"}]},
        },
    },
}
ROLE_WITH_SECRETS = {
    "metadata": {"name": "secret-lister"},
    "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"]}],
}
ROLE_WITH_NODES = {
    "metadata": {"name": "node-lister"},
    "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}],
}

# (user, method, path, body, allowed)
CASES = [
    ("alice", "POST", "/apis/apps/v1/namespaces/dev/deployments", DEPLOYMENT, True),
    ("alice", "GET", "/api/v1/namespaces/dev/secrets", None, True),
    ("alice", "GET", "/api/v1/namespaces/prod/secrets/db", None, False),
    ("alice", "GET", "/api/v1/nodes", None, False),
    ("alice", "DELETE", "/api/v1/namespaces/dev", None, False),
    ("alice", "POST", f"{RBAC}/namespaces/dev/roles", ROLE_WITH_SECRETS, False),
    (
        "alice",
        "GET",
        "/apis/apps/v1/namespaces/dev/deployments?watch=true&timeoutSeconds=1",
        None,
        True,
    ),
    ("alice", "GET", "/api/v1/watch/namespaces/prod/pods", None, False),
    ("victor", "GET", "/api/v1/namespaces/dev/pods", None, True),
    ("victor", "GET", "/api/v1/namespaces/dev/pods/web/log", None, True),
    ("victor", "GET", "/api/v1/namespaces/dev/secrets", None, False),
    ("victor", "POST", "/api/v1/namespaces/dev/pods/web/exec?command=sh", None, False),
    ("victor", "POST", "/apis/apps/v1/namespaces/dev/deployments", DEPLOYMENT, False),
    ("victor", "GET", "/metrics", None, False),
    ("carol", "GET", "/api/v1/namespaces/dev/configmaps/app-config", None, True),
    ("carol", "GET", "/api/v1/namespaces/dev/configmaps/other", None, False),
    ("carol", "GET", "/api/v1/namespaces/dev/configmaps", None, False),
    (
        "carol",
        "GET",
        "/api/v1/namespaces/dev/configmaps?fieldSelector=metadata.name%3Dapp-config",
        None,
        True,
    ),
    (
        "carol",
        "POST",
        "/api/v1/namespaces/dev/configmaps",
        {"metadata": {"name": "app-config"}},
        False,
    ),
    ("paula", "GET", "/api/v1/namespaces/dev/pods/web", None, True),
    ("paula", "GET", "/api/v1/namespaces/dev/pods/web/log", None, False),
    ("paula", "GET", "/api/v1/namespaces/dev/pods/web/status", None, False),
    ("dan", "GET", "/metrics", None, True),
    ("dan", "GET", "/logs/kubelet.log", None, True),
    ("dan", "GET", "/logs", None, False),
    ("tom", "POST", f"{RBAC}/namespaces/team/roles", ROLE_WITH_SECRETS, True),
    ("tom", "POST", f"{RBAC}/namespaces/team/roles", ROLE_WITH_NODES, False),
    (
        "tom",
        "POST",
        f"{RBAC}/namespaces/team/rolebindings",
        role_binding("v", "ClusterRole", "view", "alice"),
        True,
    ),
    (
        "tom",
        "POST",
        f"{RBAC}/namespaces/team/rolebindings",
        role_binding("ca", "ClusterRole", "cluster-admin", "tom"),
        False,
    ),
    ("nobody", "GET", "/api/v1/namespaces/dev/pods", None, False),
    ("nobody", "GET", "/apis/apps/v1", None, True),
    ("nobody", "GET", "/openapi/v3", None, True),
]


@pytest.mark.parametrize(
    ("user", "method", "path", "body", "allowed"),
    CASES,
    ids=[f"{u}-{m}-{p}-{'yes' if a else 'no'}" for u, m, p, _, a in CASES],
)
def test_each_user_may_do_what_their_roles_grant_and_nothing_else(
    policy: tuple[RunningAPI, dict[str, str]],
    user: str,
    method: str,
    path: str,
    body: dict | None,
    allowed: bool,
) -> None:
    api, tokens = policy
    with api.http(tokens[user]) as http:
        r = http.request(method, path, json=body)
    if allowed:
        assert r.status_code != 403, r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["reason"] == "Forbidden"


def test_a_forbidden_request_is_refused_in_kubernetes_words(
    policy: tuple[RunningAPI, dict[str, str]],
) -> None:
    api, tokens = policy
    with api.http(tokens["alice"]) as http:
        secret = http.get("/api/v1/namespaces/prod/secrets/db").json()
        nodes = http.get("/api/v1/nodes").json()
        deploy = http.delete("/apis/apps/v1/namespaces/prod/deployments/web").json()
    assert secret["message"] == (
        'secrets "db" is forbidden: User "alice" cannot get resource "secrets" '
        'in API group "" in the namespace "prod"'
    )
    assert secret["details"] == {"name": "db", "kind": "secrets"}
    assert nodes["message"] == (
        'nodes is forbidden: User "alice" cannot list resource "nodes" '
        'in API group "" at the cluster scope'
    )
    assert deploy["message"].startswith('deployments.apps "web" is forbidden: User "alice"')
    assert deploy["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    with api.http(tokens["paula"]) as http:
        log = http.get("/api/v1/namespaces/dev/pods/web/log").json()
    assert log["message"] == (
        'pods "web" is forbidden: User "paula" cannot get resource "pods/log" '
        'in API group "" in the namespace "dev"'
    )
    with api.http(tokens["victor"]) as http:
        metrics = http.get("/metrics").json()
    assert metrics["message"] == 'forbidden: User "victor" cannot get path "/metrics"'


def test_granting_more_than_one_holds_is_refused_with_what_is_missing(
    policy: tuple[RunningAPI, dict[str, str]],
) -> None:
    api, tokens = policy
    with api.http(tokens["tom"]) as http:
        r = http.post(
            f"{RBAC}/namespaces/team/roles", json={**ROLE_WITH_NODES, "metadata": {"name": "n2"}}
        )
        binding = http.post(
            f"{RBAC}/namespaces/team/rolebindings",
            json=role_binding("ca2", "ClusterRole", "cluster-admin", "tom"),
        )
    assert r.status_code == 403
    assert r.json()["message"] == (
        'roles.rbac.authorization.k8s.io "n2" is forbidden: user "tom" '
        '(groups=["staff" "system:authenticated"]) is attempting to grant RBAC permissions '
        'not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["list"]}'
    )
    assert binding.status_code == 403
    assert "is attempting to grant RBAC permissions not currently held" in binding.json()["message"]
    with api.http() as admin:
        assert admin.get(f"{RBAC}/namespaces/team/roles/n2").status_code == 404


def test_a_binding_keeps_its_role_reference(policy: tuple[RunningAPI, dict[str, str]]) -> None:
    api, _ = policy
    with api.http() as admin:
        path = f"{RBAC}/namespaces/dev/rolebindings/alice-edit"
        current = admin.get(path).json()
        current["roleRef"]["name"] = "admin"
        r = admin.put(path, json=current)
    assert r.status_code == 422
    assert "roleRef: Invalid value" in r.json()["message"]
    assert "cannot change roleRef" in r.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rules": [{"apiGroups": [""], "resources": ["pods"]}]}, "rules[0].verbs: Required value"),
        (
            {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}]},
            "namespaced rules cannot apply to non-resource URLs",
        ),
        (
            {"rules": [{"verbs": ["get"], "resources": ["pods"]}]},
            "rules[0].apiGroups: Required value",
        ),
    ],
)
def test_a_role_with_a_broken_rule_is_invalid(
    policy: tuple[RunningAPI, dict[str, str]], body: dict, message: str
) -> None:
    api, _ = policy
    with api.http() as admin:
        r = admin.post(f"{RBAC}/namespaces/dev/roles", json={"metadata": {"name": "bad"}, **body})
    assert r.status_code == 422, r.text
    assert message in r.json()["message"]


def test_a_cluster_binding_of_a_service_account_needs_its_namespace(
    policy: tuple[RunningAPI, dict[str, str]],
) -> None:
    api, _ = policy
    body = {
        "metadata": {"name": "sa-view"},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "builder"}],
    }
    with api.http() as admin:
        r = admin.post(f"{RBAC}/clusterrolebindings", json=body)
    assert r.status_code == 422
    assert "subjects[0].namespace: Required value" in r.json()["message"]


def test_a_cluster_role_labelled_for_view_is_aggregated_into_view_edit_and_admin(
    policy: tuple[RunningAPI, dict[str, str]],
) -> None:
    api, tokens = policy
    rule = {"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}
    with api.http() as admin:
        r = admin.post(
            f"{RBAC}/clusterroles",
            json={
                "metadata": {
                    "name": "widgets-view",
                    "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
                },
                "rules": [rule],
            },
        )
        assert r.status_code == 201, r.text
        for role in ("view", "edit", "admin"):
            wait_until(
                lambda role=role: rule in admin.get(f"{RBAC}/clusterroles/{role}").json()["rules"],
                message=f"{role} never got the widgets rule",
            )
    with api.http(tokens["victor"]) as http:
        r = http.get("/apis/example.com/v1/namespaces/dev/widgets/w")
    assert r.status_code == 404  # allowed, and then not found: the kind is not served


def test_default_roles_carry_the_bootstrapping_label_and_are_repaired_at_start(
    tmp_path: Path,
) -> None:
    api = start_api(tmp_path / "api")
    try:
        with api.http() as admin:
            view = admin.get(f"{RBAC}/clusterroles/system:basic-user").json()
            assert view["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
            assert (
                view["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"]
                == "true"
            )
            r = admin.delete(f"{RBAC}/clusterrolebindings/system:basic-user")
            assert r.status_code == 200
        port = int(api.url.rsplit(":", 1)[1])
    finally:
        api.stop()
    api = start_api(tmp_path / "api", port=port)
    try:
        with api.http() as admin:
            assert admin.get(f"{RBAC}/clusterrolebindings/system:basic-user").status_code == 200
    finally:
        api.stop()


def test_the_bind_verb_lets_one_grant_a_role_one_does_not_hold(
    policy: tuple[RunningAPI, dict[str, str]],
) -> None:
    api, tokens = policy
    binder = {
        "metadata": {"name": "bind-view-only"},
        "rules": [
            {
                "verbs": ["bind"],
                "apiGroups": [GROUP],
                "resources": ["clusterroles"],
                "resourceNames": ["system:auth-delegator"],
            }
        ],
    }
    with api.http() as admin:
        assert admin.post(f"{RBAC}/clusterroles", json=binder).status_code == 201
        r = admin.post(
            f"{RBAC}/namespaces/team/rolebindings",
            json=role_binding("tom-bind", "ClusterRole", "bind-view-only", "tom"),
        )
        assert r.status_code == 201, r.text
    wanted = role_binding("delegate", "ClusterRole", "system:auth-delegator", "alice")
    with api.http(tokens["tom"]) as http:
        r = wait_until(
            lambda: (
                (r := http.post(f"{RBAC}/namespaces/team/rolebindings", json=wanted)).status_code
                != 403
                and r
            )
        )
    assert r.status_code == 201, r.text

"""The review kinds answer from the live policy, in JSON and protobuf, and store nothing."""

from __future__ import annotations

import httpx
import pytest
from support.apiserver import RunningAPI
from support.wait import wait_until

from orchestrator.api.protobuf import MEDIA_TYPE, decode_object, encode_object
from orchestrator.apiserver.auth import add_token

AUTHZ = "/apis/authorization.k8s.io/v1"
GROUP = "rbac.authorization.k8s.io"


def _bind_view(http: httpx.Client, namespace: str, user: str) -> None:
    r = http.post(
        f"/apis/{GROUP}/v1/namespaces/{namespace}/rolebindings",
        json={
            "metadata": {"name": f"{user}-view"},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "apiGroup": GROUP, "name": user}],
        },
    )
    assert r.status_code == 201, r.text


def _sar(user: str, **attributes: str) -> dict:
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": attributes},
    }


def test_subject_access_review_says_whether_and_why(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as admin:
        _bind_view(admin, "default", "vera")
        wait_until(
            lambda: admin.post(
                f"{AUTHZ}/subjectaccessreviews",
                json=_sar("vera", verb="list", resource="pods", namespace="default"),
            ).json()["status"]["allowed"]
        )
        allowed = admin.post(
            f"{AUTHZ}/subjectaccessreviews",
            json=_sar("vera", verb="list", resource="pods", namespace="default"),
        ).json()["status"]
        denied = admin.post(
            f"{AUTHZ}/subjectaccessreviews",
            json=_sar("vera", verb="list", resource="secrets", namespace="default"),
        ).json()["status"]
        assert admin.get(f"{AUTHZ}/subjectaccessreviews").status_code == 405
    assert allowed == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "vera-view/default" of ClusterRole "view" '
        'to User "vera"',
    }
    assert denied == {"allowed": False}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"resourceAttributes": {"verb": "get"}},
            "at least one of user or group must be specified",
        ),
        (
            {"user": "x"},
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ),
        (
            {"user": "x", "resourceAttributes": {}, "nonResourceAttributes": {}},
            "cannot be specified in combination with resourceAttributes",
        ),
    ],
)
def test_a_malformed_access_review_is_invalid(
    sqlite_api: RunningAPI, spec: dict, message: str
) -> None:
    with sqlite_api.http() as admin:
        r = admin.post(
            f"{AUTHZ}/subjectaccessreviews", json={"kind": "SubjectAccessReview", "spec": spec}
        )
    assert r.status_code == 422, r.text
    assert message in r.json()["message"]


def test_a_local_review_must_ask_about_its_own_namespace(sqlite_api: RunningAPI) -> None:
    body = _sar("x", verb="get", resource="pods", namespace="other")
    body["kind"] = "LocalSubjectAccessReview"
    with sqlite_api.http() as admin:
        r = admin.post(f"{AUTHZ}/namespaces/default/localsubjectaccessreviews", json=body)
    assert r.status_code == 422
    assert "spec.resourceAttributes.namespace" in r.json()["message"]
    assert "must match metadata.namespace" in r.json()["message"]


def test_everyone_may_ask_about_themselves_but_not_about_others(sqlite_api: RunningAPI) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="pat", groups=["g"])
    ssar = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "spec": {"nonResourceAttributes": {"path": "/apis", "verb": "get"}},
    }
    with sqlite_api.http(token) as http:
        own = http.post(f"{AUTHZ}/selfsubjectaccessreviews", json=ssar)
        other = http.post(
            f"{AUTHZ}/subjectaccessreviews", json=_sar("x", verb="get", resource="pods")
        )
        tokens = http.post(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            json={"kind": "TokenReview", "spec": {"token": "t"}},
        )
        rules = http.post(
            f"{AUTHZ}/selfsubjectrulesreviews",
            json={"kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}},
        )
    assert own.status_code == 201 and own.json()["status"]["allowed"] is True
    assert other.status_code == 403
    assert tokens.status_code == 403
    assert tokens.json()["message"].startswith(
        "tokenreviews.authentication.k8s.io is forbidden: "
        'User "pat" cannot create resource "tokenreviews"'
    )
    status = rules.json()["status"]
    assert status["incomplete"] is False
    assert {
        "verbs": ["get"],
        "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    } in status["nonResourceRules"]
    assert {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    } in status["resourceRules"]


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha1"])
def test_self_subject_review_names_the_caller_in_each_version(
    sqlite_api: RunningAPI, version: str
) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="pat", uid="42", groups=["g"])
    api_version = f"authentication.k8s.io/{version}"
    with sqlite_api.http(token) as http:
        r = http.post(
            f"/apis/{api_version}/selfsubjectreviews",
            json={"kind": "SelfSubjectReview", "apiVersion": api_version},
        )
    assert r.status_code == 201, r.text
    assert r.json()["apiVersion"] == api_version
    assert r.json()["status"]["userInfo"] == {
        "username": "pat",
        "uid": "42",
        "groups": ["g", "system:authenticated"],
    }


def test_reviews_travel_in_protobuf(sqlite_api: RunningAPI) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": {
            "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}
        },
    }
    headers = {"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE}
    with sqlite_api.http() as admin:
        r = admin.post(
            f"{AUTHZ}/selfsubjectaccessreviews", content=encode_object(review), headers=headers
        )
        role = {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Role",
            "metadata": {"name": "pb", "namespace": "default"},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
        }
        created = admin.post(
            f"/apis/{GROUP}/v1/namespaces/default/roles",
            content=encode_object(role),
            headers={"Content-Type": MEDIA_TYPE},
        )
    assert r.status_code == 201, r.text
    assert decode_object(r.content)["status"] == {"allowed": True}
    assert created.status_code == 201, created.text
    assert created.json()["rules"] == role["rules"]

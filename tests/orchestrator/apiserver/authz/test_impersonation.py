"""Impersonation headers: who a request acts as, what each header needs, and what is refused."""

from __future__ import annotations

from support.apiserver import RunningAPI

from orchestrator.apiserver.auth import add_token

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def test_the_admin_acts_as_the_user_uid_groups_and_extras_it_names(
    sqlite_api: RunningAPI,
) -> None:
    headers = [
        ("Impersonate-User", "carol"),
        ("Impersonate-Uid", "c-1"),
        ("Impersonate-Group", "ops"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Extra-Scopes", "view"),
        ("Impersonate-Extra-Acme.com%2Fteam", "red"),
    ]
    with sqlite_api.http() as admin:
        r = admin.post(WHOAMI, json=REVIEW, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"]["userInfo"] == {
        "username": "carol",
        "uid": "c-1",
        "groups": ["ops", "dev", "system:authenticated"],
        "extra": {"scopes": ["view"], "acme.com/team": ["red"]},
    }


def test_groups_without_a_user_are_a_bad_request_and_a_user_without_the_right_is_refused(
    sqlite_api: RunningAPI,
) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="dave")
    with sqlite_api.http() as admin:
        lone = admin.get("/api/v1/namespaces", headers={"Impersonate-Group": "ops"})
        as_dave = {"Authorization": f"Bearer {token}"}
        refused = admin.get(
            "/api/v1/namespaces",
            headers={**as_dave, "Impersonate-User": "carol", "Impersonate-Group": "ops"},
        )
    assert lone.status_code == 400, lone.text
    assert lone.json()["message"] == "requested impersonate-group without impersonating a user"
    assert refused.status_code == 403, refused.text
    assert refused.json()["message"] == (
        'users "carol" is forbidden: User "dave" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    )

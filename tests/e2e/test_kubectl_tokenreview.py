"""TokenReview (authentication.k8s.io/v1): the API server says whose a token is, storing nothing.

The builder checks a pusher's token this way; kubectl and plain HTTP see the
kind as Kubernetes serves it: create-only, 201 with the status filled in.
"""

from __future__ import annotations

import json
from pathlib import Path

from e2e.conftest import Kubectl
from support.apiserver import RunningAPI

from orchestrator.apiserver.auth import add_token

REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"


def review(token: str) -> dict:
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }


def test_a_valid_token_is_reviewed_as_its_user(sqlite_api: RunningAPI) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="alice", groups=["system:masters"])
    with sqlite_api.http() as http:
        r = http.post(REVIEWS, json=review(token))
    assert r.status_code == 201, r.text
    status = r.json()["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == "alice"
    assert "system:authenticated" in status["user"]["groups"]


def test_an_unknown_token_is_not_authenticated_and_nothing_is_stored(
    sqlite_api: RunningAPI,
) -> None:
    with sqlite_api.http() as http:
        r = http.post(REVIEWS, json=review("not-a-token"))
        assert r.status_code == 201, r.text
        assert r.json()["status"]["authenticated"] is False
        assert r.json()["status"]["user"] == {}
        assert http.get(REVIEWS).status_code == 405
        assert http.get(f"{REVIEWS}/x").status_code == 405


def test_reviewing_needs_a_token_of_ones_own(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http(token="") as http:
        assert http.post(REVIEWS, json=review(sqlite_api.token)).status_code == 401


def test_a_body_without_a_token_string_is_a_bad_request(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        r = http.post(REVIEWS, json={"kind": "TokenReview", "spec": {"token": 5}})
    assert r.status_code == 400
    assert "spec.token" in r.json()["message"]


def test_kubectl_creates_a_token_review_and_sees_the_answer(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = tmp_path / "review.json"
    manifest.write_text(json.dumps(review(api.token)))
    out = kubectl("create", "-f", str(manifest), "-o", "json").stdout
    assert json.loads(out)["status"]["user"]["username"] == "admin"
    resources = kubectl("api-resources", "--api-group=authentication.k8s.io").stdout
    assert "tokenreviews" in resources and "TokenReview" in resources

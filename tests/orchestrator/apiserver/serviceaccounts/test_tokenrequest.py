"""TokenRequest over HTTP against a real API server: answers, refusals, and the token's life.

A token works as its ServiceAccount (TokenReview, SelfSubjectReview-free: a list call
works and TokenReview names the account) and stops working when the account or the pod
it is bound to is deleted.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
from support.apiserver import RunningAPI, start_api
from support.wait import wait_until

NS = "default"
AUDIENCE = "https://kubernetes.default.svc.cluster.local"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def create_sa(http: httpx.Client, name: str, ns: str = NS, **fields: Any) -> dict[str, Any]:
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}, **fields}
    r = http.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def create_pod(http: httpx.Client, name: str, account: str = "", **spec: Any) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [{"name": "c", "image": "paas/stack"}], **spec}
    if account:
        pod_spec["serviceAccountName"] = account
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": pod_spec}
    r = http.post(f"/api/v1/namespaces/{NS}/pods", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def request_token(http: httpx.Client, account: str, spec: dict[str, Any]) -> httpx.Response:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    return http.post(f"/api/v1/namespaces/{NS}/serviceaccounts/{account}/token", json=body)


def review(http: httpx.Client, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    r = http.post("/apis/authentication.k8s.io/v1/tokenreviews", json=body)
    assert r.status_code == 201, r.text
    return r.json()["status"]


def works(api: RunningAPI, token: str) -> bool:
    with api.http(token) as http:
        return http.get(f"/api/v1/namespaces/{NS}/configmaps").status_code != 401


def test_token_request_answers_with_a_signed_token_for_the_account(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        sa = create_sa(http, "builder")
        before = int(time.time())
        r = request_token(http, "builder", {})
        assert r.status_code == 201, r.text
        answer = r.json()
        assert answer["kind"] == "TokenRequest"
        assert answer["spec"]["audiences"] == [AUDIENCE]
        assert answer["spec"]["expirationSeconds"] == 3600
        claims = claims_of(answer["status"]["token"])
        assert claims["iss"] == AUDIENCE and claims["aud"] == [AUDIENCE]
        assert claims["sub"] == "system:serviceaccount:default:builder"
        assert claims["kubernetes.io"] == {
            "namespace": NS,
            "serviceaccount": {"name": "builder", "uid": sa["metadata"]["uid"]},
        }
        assert before <= claims["iat"] == claims["nbf"] and claims["exp"] == claims["iat"] + 3600
        assert claims["jti"]
        status = review(http, answer["status"]["token"])
        assert status["authenticated"] is True
        assert status["user"]["username"] == "system:serviceaccount:default:builder"
        assert status["user"]["uid"] == sa["metadata"]["uid"]
        assert status["user"]["groups"] == [
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated",
        ]
        assert status["audiences"] == [AUDIENCE]
    assert works(sqlite_api, answer["status"]["token"])


def test_token_request_refusals_say_what_kubernetes_says(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        create_sa(http, "builder")
        create_sa(http, "other")
        pod = create_pod(http, "runs-other", account="other")

        r = request_token(http, "missing", {})
        assert r.status_code == 404
        assert r.json()["message"] == 'serviceaccounts "missing" not found'

        r = request_token(http, "builder", {"expirationSeconds": 10})
        assert r.status_code == 422
        assert r.json()["message"] == (
            'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
            "Invalid value: 10: may not specify a duration less than 10 minutes"
        )

        ref = {"kind": "Pod", "apiVersion": "v1", "name": "runs-other"}
        r = request_token(http, "builder", {"boundObjectRef": ref})
        assert r.status_code == 400
        assert r.json()["message"] == (
            'cannot bind token for serviceaccount "builder" to pod running with different '
            "serviceaccount name."
        )

        r = request_token(http, "other", {"boundObjectRef": {**ref, "uid": "not-its-uid"}})
        assert r.status_code == 409
        assert "does not match the UID in record" in r.json()["message"]

        bad = {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}
        r = request_token(http, "builder", {"boundObjectRef": bad})
        assert r.status_code == 400
        assert r.json()["message"] == (
            'cannot bind token for serviceaccount "builder" to object of kind "/v1, Kind=ConfigMap"'
        )

        ok = {**ref, "uid": pod["metadata"]["uid"]}
        assert request_token(http, "other", {"boundObjectRef": ok}).status_code == 201


def test_pod_token_for_3607_seconds_lives_a_year_and_names_the_pod(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        pod = create_pod(http, "web")  # runs as "default", made by admission
        ref = {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": pod["metadata"]["uid"]}
        r = request_token(http, "default", {"expirationSeconds": 3607, "boundObjectRef": ref})
        assert r.status_code == 201, r.text
        claims = claims_of(r.json()["status"]["token"])
        assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": pod["metadata"]["uid"]}
        assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607
        assert claims["exp"] == claims["iat"] + 365 * 24 * 3600
        status = review(http, r.json()["status"]["token"])
        extra = status["user"]["extra"]
        assert extra["authentication.kubernetes.io/pod-name"] == ["web"]
        assert extra["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
        assert extra["authentication.kubernetes.io/credential-id"] == [f"JTI={claims['jti']}"]


def test_token_stops_working_when_its_pod_is_deleted(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        pod = create_pod(http, "short-lived")
        ref = {"kind": "Pod", "apiVersion": "v1", "name": "short-lived"}
        token = request_token(http, "default", {"boundObjectRef": ref}).json()["status"]["token"]
        assert works(sqlite_api, token)
        r = http.delete(f"/api/v1/namespaces/{NS}/pods/short-lived?gracePeriodSeconds=0")
        assert r.status_code in (200, 202)
        # A pod of the same name made again has another uid: the old token stays dead.
        again = create_pod(http, "short-lived")
        assert again["metadata"]["uid"] != pod["metadata"]["uid"]
    wait_until(lambda: not works(sqlite_api, token), message="token of a deleted pod still works")
    with sqlite_api.http() as http:
        assert review(http, token)["authenticated"] is False


def test_token_stops_working_when_its_service_account_is_deleted(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        create_sa(http, "temporary")
        token = request_token(http, "temporary", {}).json()["status"]["token"]
        assert works(sqlite_api, token)
        assert http.delete(f"/api/v1/namespaces/{NS}/serviceaccounts/temporary").status_code == 200
        create_sa(http, "temporary")  # same name, new uid
    wait_until(
        lambda: not works(sqlite_api, token), message="token of a deleted account still works"
    )


def test_token_for_another_audience_is_refused_by_the_api_but_reviewed_for_it(
    sqlite_api: RunningAPI,
) -> None:
    with sqlite_api.http() as http:
        create_sa(http, "vault-client")
        r = request_token(http, "vault-client", {"audiences": ["vault"]})
        token = r.json()["status"]["token"]
        assert review(http, token)["authenticated"] is False
        status = review(http, token, ["vault", "other"])
        assert status["authenticated"] is True and status["audiences"] == ["vault"]
    assert not works(sqlite_api, token)


def test_tampered_or_foreign_tokens_are_401(sqlite_api: RunningAPI, tmp_path: Path) -> None:
    with sqlite_api.http() as http:
        create_sa(http, "builder")
        token = request_token(http, "builder", {}).json()["status"]["token"]
    head, _payload, sig = token.split(".")
    claims = claims_of(token)
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert not works(sqlite_api, f"{head}.{forged}.{sig}")
    other = start_api(tmp_path / "other")  # another cluster: another key
    try:
        with other.http() as http:
            create_sa(http, "builder")
            foreign = request_token(http, "builder", {}).json()["status"]["token"]
    finally:
        other.stop()
    assert not works(sqlite_api, foreign)
    assert works(sqlite_api, token)


def test_signing_key_is_private_and_issuer_discovery_is_served(sqlite_api: RunningAPI) -> None:
    key = sqlite_api.data_dir / "sa.key"
    assert key.stat().st_mode & 0o777 == 0o600
    with sqlite_api.http() as http:
        config = http.get("/.well-known/openid-configuration").json()
        assert config["issuer"] == AUDIENCE
        assert config["jwks_uri"].endswith("/openid/v1/jwks")
        keys = http.get("/openid/v1/jwks").json()["keys"]
        assert [k["kty"] for k in keys] == ["EC"] and keys[0]["alg"] == "ES256"


def test_token_works_at_once_after_the_api_server_restarts(tmp_path: Path) -> None:
    """Same key from the data dir, and the account cache is listed before serving."""
    first = start_api(tmp_path / "api")
    try:
        with first.http() as http:
            create_sa(http, "survivor")
            token = request_token(http, "survivor", {}).json()["status"]["token"]
        port = int(first.url.rsplit(":", 1)[1])
    finally:
        first.stop()
    again = start_api(tmp_path / "api", port=port)
    try:
        assert works(again, token)
    finally:
        again.stop()

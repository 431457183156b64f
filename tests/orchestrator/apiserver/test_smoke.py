"""The API server answers over TLS with token auth on both stores."""

from support.apiserver import RunningAPI


def test_namespaces_exist_from_the_start(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.get("/api/v1/namespaces")
    assert r.status_code == 200
    names = {ns["metadata"]["name"] for ns in r.json()["items"]}
    assert {"default", "kube-system"} <= names


def test_request_without_token_is_unauthorized(api: RunningAPI) -> None:
    with api.http(token="") as http:
        r = http.get("/api/v1/namespaces")
        assert r.status_code == 401
        assert r.json()["reason"] == "Unauthorized"
        assert http.get("/readyz").status_code == 200

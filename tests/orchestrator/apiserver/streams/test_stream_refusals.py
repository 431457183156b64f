"""Refusals of exec/attach/port-forward requests, answered before any upgrade.

A real API server over HTTPS, spoken to with httpx as kubectl's SPDY
upgrade POST looks (reference section 3.1); no node is needed, because
every request here is refused from what the store says.
"""

from __future__ import annotations

import httpx
import pytest
from support.apiserver import RunningAPI

SPDY = {
    "Connection": "Upgrade",
    "Upgrade": "SPDY/3.1",
    "X-Stream-Protocol-Version": "v4.channel.k8s.io",
}
PODS = "/api/v1/namespaces/default/pods"


def _pod(name: str, containers: list[str], node: str = "", **meta: object) -> dict[str, object]:
    spec: dict[str, object] = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, **meta}, "spec": spec}


@pytest.fixture
def http(sqlite_api: RunningAPI) -> httpx.Client:
    with sqlite_api.http() as client:
        yield client


def _upgrade(http: httpx.Client, path: str) -> httpx.Response:
    if "/portforward" in path:
        return http.post(path, headers={**SPDY, "X-Stream-Protocol-Version": "portforward.k8s.io"})
    return http.post(path, headers=SPDY)


def test_refusals_name_the_reason_in_kubernetes_words(http: httpx.Client) -> None:
    assert http.post(PODS, json=_pod("unbound", ["app"])).status_code == 201
    assert http.post(PODS, json=_pod("two", ["a", "b"], node="n1")).status_code == 201
    cases = [
        (
            f"{PODS}/unbound/exec?command=true&stdout=true",
            400,
            "pod unbound does not have a host assigned",
        ),
        (
            f"{PODS}/two/exec?command=true&stdout=true",
            400,
            "a container name must be specified for pod two, choose one of: [a b]",
        ),
        (
            f"{PODS}/two/exec?command=true&stdout=true&container=c",
            400,
            "container c is not valid for pod two",
        ),
        (
            f"{PODS}/two/exec?container=a&stdout=true",
            400,
            "you must specify at least one command for the container",
        ),
        (
            f"{PODS}/two/attach?container=a",
            400,
            "you must specify at least 1 of stdin, stdout, stderr",
        ),
        (
            f"{PODS}/two/exec?command=true&stdout=maybe&container=a",
            400,
            'invalid boolean for query parameter "stdout"',
        ),
        (f"{PODS}/missing/portforward", 404, 'pods "missing" not found'),
        (f"{PODS}/two/portforward", 503, 'bound to node "n1", which is not registered'),
    ]
    for path, code, words in cases:
        answer = _upgrade(http, path)
        assert answer.status_code == code, (path, answer.text)
        status = answer.json()
        assert status["kind"] == "Status" and status["code"] == code
        assert words in status["message"], (path, status["message"])


def test_a_stream_request_needs_a_token_and_an_upgrade(
    sqlite_api: RunningAPI, http: httpx.Client
) -> None:
    assert http.post(PODS, json=_pod("web", ["app"], node="n1")).status_code == 201
    with sqlite_api.http(token="") as anonymous:
        answer = _upgrade(anonymous, f"{PODS}/web/exec?command=true&stdout=true")
    assert answer.status_code == 401
    plain = http.get(f"{PODS}/web/exec", params={"command": "true", "stdout": "true"})
    assert plain.status_code == 400 and plain.json()["message"] == "Upgrade request required"


def test_an_unknown_stream_protocol_is_refused_naming_both_sides(http: httpx.Client) -> None:
    assert http.post(PODS, json=_pod("web", ["app"], node="n1")).status_code == 201
    answer = http.post(
        f"{PODS}/web/exec?command=true&stdout=true",
        headers={**SPDY, "X-Stream-Protocol-Version": "v9.channel.k8s.io"},
    )
    assert answer.status_code == 403
    assert "unable to negotiate protocol" in answer.json()["message"]


def test_discovery_lists_the_streaming_subresources(http: httpx.Client) -> None:
    resources = {r["name"]: r for r in http.get("/api/v1").json()["resources"]}
    assert resources["pods/exec"]["kind"] == "PodExecOptions"
    assert resources["pods/attach"]["verbs"] == ["create", "get"]
    assert resources["pods/portforward"]["kind"] == "PodPortForwardOptions"

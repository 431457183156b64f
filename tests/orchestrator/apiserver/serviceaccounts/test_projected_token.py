"""The projected ServiceAccount volume in running pods, on the process runtime and on Docker.

A pod's container reads ``/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,
namespace}`` as a real in-cluster client would; the token it finds is the pod's own (bound
to it, accepted by TokenReview). The node agent refreshes a token at 80 % of its lifetime.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.kubelet import RUNTIMES, KubeletNode, kubelet_node_for
from support.wait import eventually_async

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.serviceaccounts.signing import b64url_decode
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.podtokens import PodTokens
from orchestrator.kubelet.runtimes.base import STACK_IMAGE

PODS = BUILTIN_TYPES.require("", "Pod")
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# Prints what an in-cluster client reads, one JSON line, then stays up.
READER = f"""
import json, pathlib, time
d = pathlib.Path({TOKEN_DIR!r})
print(json.dumps({{n: (d / n).read_text() for n in ("token", "ca.crt", "namespace")}}), flush=True)
time.sleep(600)
"""


@pytest.fixture(params=RUNTIMES)
async def node(
    request: pytest.FixtureRequest, sqlite_api: RunningAPI, tmp_path: Path
) -> AsyncIterator[KubeletNode]:
    async with kubelet_node_for(request, sqlite_api, request.param, tmp_path) as running:
        yield running


def claims_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[1]))


async def review(client: APIClient, token: str) -> dict[str, Any]:
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }
    r = await client.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", json_body=body)
    return r.json()["status"]


async def test_running_pod_reads_its_own_token_ca_and_namespace(node: KubeletNode) -> None:
    container = {"name": "reader", "image": STACK_IMAGE, "command": ["python3", "-c", READER]}
    created = await node.create_pod(
        {"metadata": {"name": "reader"}, "spec": {"containers": [container]}}
    )
    await node.wait_pod("reader", lambda p: (p.get("status") or {}).get("phase") == "Running")

    async def printed() -> str:
        return (await node.log("reader")).strip()

    line = await eventually_async(printed, 30)
    seen = json.loads(line.splitlines()[0])
    assert seen["namespace"] == "default"
    assert seen["ca.crt"] == node.api.ca.read_text()
    claims = claims_of(seen["token"])
    assert claims["kubernetes.io"]["pod"] == {
        "name": "reader",
        "uid": created["metadata"]["uid"],
    }
    assert claims["kubernetes.io"]["node"]["name"] == node.name
    assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607
    status = await review(node.client, seen["token"])
    assert status["user"]["username"] == "system:serviceaccount:default:default"
    assert status["user"]["extra"]["authentication.kubernetes.io/pod-name"] == ["reader"]
    assert status["user"]["extra"]["authentication.kubernetes.io/node-name"] == [node.name]


async def test_node_agent_refreshes_a_token_at_80_percent_of_its_life(
    sqlite_api: RunningAPI,
) -> None:
    now = [1_000_000.0]
    async with APIClient(sqlite_api.client_config()) as client:
        pod = await client.create(
            PODS,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": STACK_IMAGE}]},
            },
            "default",
        )
        source = pod["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
        tokens = PodTokens(client, clock=lambda: now[0])
        await tokens.prepare(pod)
        first = tokens.token(pod, source)
        assert first is not None
        now[0] += 3607 * 0.79  # not yet
        await tokens.prepare(pod)
        assert tokens.token(pod, source) == first
        now[0] += 3607 * 0.02  # past 80 %
        await tokens.prepare(pod)
        second = tokens.token(pod, source)
        assert second is not None and claims_of(second)["jti"] != claims_of(first)["jti"]
        tokens.forget(pod["metadata"]["uid"])
        assert tokens.token(pod, source) is None

"""The node agent's port takes bearer tokens, reviewed by the API server on ``nodes/metrics``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from support.apiserver import RunningAPI

from orchestrator import pki
from orchestrator.apiserver.auth import add_token
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.server import KubeletServer, KubeletServerSettings
from orchestrator.metrics.delegated import DelegatedAuth, DelegatedSettings

NODE_METRICS_READER = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "node-metrics-reader"},
    "rules": [{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}],
}


@pytest.fixture
async def server(sqlite_api: RunningAPI, tmp_path: Path) -> AsyncIterator[KubeletServer]:
    ca = pki.ensure_ca(tmp_path / "ca")
    runtime = ProcessRuntime(
        tmp_path / "runtime", "n1", ProcessRuntimeSettings(network="loopback", isolation="off")
    )
    kubelet = KubeletServer(
        runtime, KubeletServerSettings(cert_dir=tmp_path / "tls", client_ca=ca.cert.read_bytes())
    )
    node_token = add_token(
        sqlite_api.data_dir / "tokens.json", user="system:node:n1", groups=["system:nodes"]
    )
    client = APIClient(replace(sqlite_api.client_config(), token=node_token))
    kubelet.delegate(DelegatedAuth(client, DelegatedSettings(authz_denied_ttl=0.0)), "n1")
    await kubelet.start()
    try:
        yield kubelet
    finally:
        await kubelet.close()
        await client.close()


async def _get(server: KubeletServer, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(verify=pki.pinned_context(server.cert_pem), timeout=20) as http:
        return await http.get(server.url + path, headers=headers)


async def test_node_metrics_with_a_token_needs_nodes_metrics_rights(
    sqlite_api: RunningAPI, server: KubeletServer
) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="scraper", groups=["scrapers"])
    assert (await _get(server, "/metrics", None)).status_code == 401
    assert (await _get(server, "/metrics", "not-a-token")).status_code == 401
    refused = await _get(server, "/metrics", token)
    assert refused.status_code == 403
    assert refused.text == (
        "Forbidden (user=scraper, verb=get, resource=nodes, subresource=metrics)"
    )
    with sqlite_api.http() as admin:
        admin.post(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles", json=NODE_METRICS_READER
        ).raise_for_status()
        admin.post(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            json={
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "scrapers"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "node-metrics-reader",
                },
                "subjects": [
                    {"kind": "Group", "name": "scrapers", "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        ).raise_for_status()
    allowed = await _get(server, "/metrics", token)
    assert allowed.status_code == 200
    assert "process_cpu_seconds_total" in allowed.text
    # the same token reaches no further than the role says: logs are nodes/proxy
    logs = await _get(server, "/containerLogs/default/web/app", token)
    assert logs.status_code == 403
    assert "subresource=proxy" in logs.text

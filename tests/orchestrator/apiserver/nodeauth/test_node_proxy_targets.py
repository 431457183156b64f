"""The API server as a port scanner or a confused deputy: neither.

A node may point its own Node anywhere (it is its own word), but the API
server then only connects with the node's published certificate pinned,
never skips that check on a client's request, and answers the same for a
closed port, a plain TCP service and a TLS server with another certificate,
so the answer says nothing about what listens at an address.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.apiserver import RunningAPI

from orchestrator import pki
from orchestrator.apiserver.auth import add_token

NODES = "/api/v1/nodes"
PODS = "/api/v1/namespaces/default/pods"


class _Answer(socketserver.BaseRequestHandler):
    tls: ssl.SSLContext | None = None

    def handle(self) -> None:
        conn = self.request
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
        except (OSError, ssl.SSLError):
            pass


def serve(tls: ssl.SSLContext | None) -> Iterator[int]:
    handler = type("Answer", (_Answer,), {"tls": tls})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def plain_port() -> Iterator[int]:
    yield from serve(None)


@pytest.fixture
def tls_port(tmp_path: Path) -> Iterator[int]:
    other = pki.ensure_self_signed_cert(tmp_path / "other", "some-service", ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(other.cert), str(other.key))
    yield from serve(context)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def running_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "paas/stack:bookworm"}]},
    }


def test_a_node_pointing_at_other_services_learns_nothing_from_the_api_servers_answers(
    sqlite_api: RunningAPI, tmp_path: Path, plain_port: int, tls_port: int
) -> None:
    token = add_token(
        sqlite_api.data_dir / "tokens.json", user="system:node:n1", groups=["system:nodes"]
    )
    own = pki.ensure_self_signed_cert(tmp_path / "n1", "n1", ["127.0.0.1"]).cert.read_text()
    merge = {"Content-Type": "application/merge-patch+json"}
    with sqlite_api.http(token) as n1, sqlite_api.http() as admin:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "n1",
                "annotations": {pki.KUBELET_SERVING_CERT_ANNOTATION: own},
            },
        }
        n1.post(NODES, json=node).raise_for_status()
        admin.post(PODS, json=running_pod()).raise_for_status()
        status = {
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "app",
                        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                        "ready": True,
                        "restartCount": 0,
                        "image": "paas/stack:bookworm",
                        "imageID": "",
                        "containerID": "process://x",
                    }
                ],
            }
        }
        n1.patch(f"{PODS}/web/status", json=status, headers=merge).raise_for_status()

        answers: dict[str, httpx.Response] = {}
        for what, port in (("closed", closed_port()), ("plain", plain_port), ("tls", tls_port)):
            endpoint = {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
                }
            }
            n1.patch(f"{NODES}/n1/status", json=endpoint, headers=merge).raise_for_status()
            answers[what] = admin.get(f"{PODS}/web/log")
            answers[f"{what}, skip asked"] = admin.get(
                f"{PODS}/web/log", params={"insecureSkipTLSVerifyBackend": "true"}
            )

    expected = (
        'the node agent of node "n1" could not be reached with the serving certificate its '
        f"Node publishes ({pki.KUBELET_SERVING_CERT_ANNOTATION})"
    )
    seen = {what: (r.status_code, r.json()["message"]) for what, r in answers.items()}
    assert seen == {what: (503, expected) for what in answers}

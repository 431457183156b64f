"""The node agent's HTTPS server over the process runtime: real containers, real TLS.

Each test starts containers that print lines in a real ``ProcessRuntime``
(loopback networking, no isolation: logs need neither) and reads them from
a real ``KubeletServer`` over HTTPS, trusting exactly the certificate it
publishes and presenting a client certificate signed by a CA of the test's
own, as the API server does.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.wait import eventually_async

from orchestrator import pki
from orchestrator.kubelet.registration import NodeSettings
from orchestrator.kubelet.runtimes.base import STACK_IMAGE, ContainerSpec, SandboxSpec
from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings
from orchestrator.kubelet.server import KubeletServer, KubeletServerSettings

UID = "0b5c6d1e-0000-4000-8000-000000000001"
FIVE_LINES = "import sys\nfor i in range(5): print(f'line {i}')\nprint('oops', file=sys.stderr)"


@dataclass
class Node:
    runtime: ProcessRuntime
    server: KubeletServer
    ca: pki.CertPaths
    client_cert: pki.CertPaths
    tmp: Path

    async def start(self, container: str, script: str, attempt: int = 0) -> str:
        sandbox = await self.runtime.run_sandbox(
            SandboxSpec(pod_uid=UID, namespace="default", name="web", hostname="web")
        )
        spec = ContainerSpec(
            pod_uid=UID,
            namespace="default",
            pod_name="web",
            name=container,
            attempt=attempt,
            image=STACK_IMAGE,
            command=("python3", "-u", "-c", script),
        )
        return (await self.runtime.start_container(sandbox, spec)).id

    async def exited(self, cid: str) -> bool:
        return any(c.id == cid and c.status == "exited" for c in await self.runtime.containers())

    def http(self, client: pki.CertPaths | None = None) -> httpx.AsyncClient:
        context = pki.pinned_context(self.server.cert_pem, client)
        return httpx.AsyncClient(base_url=self.server.url, verify=context, timeout=20)

    def caller(self) -> httpx.AsyncClient:
        return self.http(self.client_cert)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    ca = pki.ensure_ca(tmp_path / "ca")
    client_cert = pki.ensure_client_cert(tmp_path / "ca", ca, "apiserver-kubelet-client")
    runtime = ProcessRuntime(
        tmp_path / "runtime",
        "n1",
        ProcessRuntimeSettings(network="loopback", isolation="off", log_follow_interval=0.05),
    )
    await runtime.start("")
    server = KubeletServer(
        runtime,
        KubeletServerSettings(cert_dir=tmp_path / "tls", client_ca=ca.cert.read_bytes()),
    )
    await server.start()
    try:
        yield Node(runtime, server, ca, client_cert, tmp_path)
    finally:
        try:
            for sandbox in await runtime.sandboxes():
                await runtime.remove_sandbox(sandbox.pod_uid)
        finally:
            await server.close()
            await runtime.close()


LOGS = "/containerLogs/default/web/app"


async def test_healthz_answers_anyone(node: Node) -> None:
    async with node.http() as http:
        r = await http.get("/healthz")
    assert r.status_code == 200 and r.text == "ok"


async def test_logs_need_the_api_servers_client_certificate(node: Node) -> None:
    other = pki.ensure_client_cert(node.tmp / "ca", node.ca, "someone", common_name="someone")
    for cert in (None, other):
        async with node.http(cert) as http:
            r = await http.get(LOGS)
        assert r.status_code == 401, (cert, r.text)
    stranger_ca = pki.ensure_ca(node.tmp / "stranger")
    forged = pki.ensure_client_cert(node.tmp / "stranger", stranger_ca, "forged")
    async with node.http(forged) as http:
        with pytest.raises(httpx.HTTPError):  # the handshake itself fails
            await http.get(LOGS)


async def test_whole_log_tail_timestamps_and_limit(node: Node) -> None:
    cid = await node.start("app", FIVE_LINES)
    await eventually_async(lambda: node.exited(cid))
    async with node.caller() as http:
        whole = await http.get(LOGS)
        assert whole.status_code == 200, whole.text
        assert whole.headers["content-type"].startswith("text/plain")
        assert whole.text == "line 0\nline 1\nline 2\nline 3\nline 4\noops\n"
        tail = await http.get(LOGS, params={"tailLines": "2"})
        assert tail.text == "line 4\noops\n"
        stamped = await http.get(LOGS, params={"timestamps": "true", "tailLines": "1"})
        stamp, _, text = stamped.text.rstrip("\n").partition(" ")
        assert (
            text == "oops"
            and stamp.endswith("Z")
            and len(stamp) == len("2026-01-01T00:00:00.123456789Z")
        )
        limited = await http.get(LOGS, params={"limitBytes": "9"})
        assert limited.text == "line 0\nli"


async def test_follow_streams_lines_as_they_come_and_ends_with_the_container(node: Node) -> None:
    go = node.tmp / "go"
    script = (
        "import os, time\n"
        "print('one')\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
        "print('two')\n"
    )
    await node.start("app", script)
    async with node.caller() as http, http.stream("GET", LOGS, params={"follow": "true"}) as r:
        assert r.status_code == 200
        lines = r.aiter_lines()
        assert await anext(lines) == "one"
        go.touch()  # only now does the container write its second line
        assert await anext(lines) == "two"
        with pytest.raises(StopAsyncIteration):  # the container ended: so does the stream
            await anext(lines)


async def test_previous_is_the_attempt_before_the_current_one(node: Node) -> None:
    first = await node.start("app", "print('first run')")
    await eventually_async(lambda: node.exited(first))
    async with node.caller() as http:
        r = await http.get(LOGS, params={"previous": "true"})
        assert r.status_code == 400
        assert r.text == 'previous terminated container "app" in pod "web" not found'
        await node.start("app", "print('second run')", attempt=1)
        assert (await http.get(LOGS, params={"previous": "true"})).text == "first run\n"
        current = await eventually_async(lambda: _text(http, LOGS))
        assert current == "second run\n"
        hinted = await http.get(LOGS, params={"containerID": first})
        assert hinted.text == "first run\n"


async def _text(http: httpx.AsyncClient, path: str) -> str:
    return (await http.get(path)).text


async def test_unknown_pod_and_container_in_kubelet_words(node: Node) -> None:
    await node.start("app", "print('hi')")
    async with node.caller() as http:
        r = await http.get("/containerLogs/default/nope/app")
        assert (r.status_code, r.text) == (404, 'pod "nope" does not exist')
        r = await http.get("/containerLogs/default/web/other")
        assert r.status_code == 400
        assert r.text == 'container "other" in pod "web" is waiting to start: ContainerCreating'
        r = await http.get(LOGS, params={"tailLines": "many"})
        assert (r.status_code, r.text) == (
            400,
            "invalid integer for query parameter \"tailLines\": 'many'",
        )


async def test_a_restarted_server_keeps_its_certificate_and_publishes_it(
    node: Node, tmp_path: Path
) -> None:
    again = KubeletServer(
        node.runtime, KubeletServerSettings(cert_dir=tmp_path / "tls", client_ca=None)
    )
    await again.start()
    try:
        assert again.cert_pem == node.server.cert_pem
        assert again.port != node.server.port
        published = again.publish(NodeSettings(address="127.0.0.1", labels={"a": "b"}))
        assert published.daemon_port == again.port
        assert published.annotations[pki.KUBELET_SERVING_CERT_ANNOTATION] == again.cert_pem.decode()
        assert published.labels == {"a": "b"}
        context = pki.pinned_context(again.cert_pem, node.client_cert)
        async with httpx.AsyncClient(base_url=again.url, verify=context) as http:
            r = await http.get(LOGS)
        assert r.status_code == 401  # no CA given: it cannot verify anyone, and says so
        assert "without the cluster CA" in r.text
    finally:
        await again.close()


def test_pinned_context_refuses_what_is_not_a_certificate() -> None:
    with pytest.raises(ValueError, match="not a PEM certificate"):
        pki.pinned_context(b"garbage")
    assert isinstance(ssl.SSLContext, type)

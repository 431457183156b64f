"""Probes against real sockets on loopback: HTTP status codes, TCP, thresholds, startup gating."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from support.wait import eventually

from orchestrator.kubelet.probes import Probers, http_probe, resolve_port, tcp_probe
from orchestrator.kubelet.runtimes.base import ContainerState


@dataclass
class App:
    """A tiny HTTP server whose answer the test changes."""

    port: int
    code: int = 200
    requests: int = 0
    last_headers: str = ""


@pytest.fixture
async def app() -> AsyncIterator[App]:
    state = App(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        state.requests += 1
        state.last_headers = head.decode()
        writer.write(f"HTTP/1.1 {state.code} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


async def test_http_probe_passes_on_2xx_3xx_and_names_the_code(app: App) -> None:
    ok = await http_probe(
        "127.0.0.1", app.port, "/healthz", [{"name": "X-Probe", "value": "1"}], "HTTP", 1
    )
    assert ok.ok
    assert "GET /healthz HTTP/1.1" in app.last_headers
    assert "X-Probe: 1" in app.last_headers
    assert "User-Agent: kube-probe/" in app.last_headers
    app.code = 302
    assert (await http_probe("127.0.0.1", app.port, "/", [], "HTTP", 1)).ok
    app.code = 500
    failed = await http_probe("127.0.0.1", app.port, "/", [], "HTTP", 1)
    assert failed == type(failed)(False, "HTTP probe failed with statuscode: 500")


async def test_refused_connections_fail_with_a_reason(app: App) -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert (
        "connection refused"
        in (await http_probe("127.0.0.1", closed, "/", [], "HTTP", 1)).message.lower()
    )
    assert (await tcp_probe("127.0.0.1", app.port, 1)).ok
    refused = await tcp_probe("127.0.0.1", closed, 1)
    assert not refused.ok and f"127.0.0.1:{closed}" in refused.message


def test_named_ports() -> None:
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port("http", container) == 8080
    assert resolve_port(81, container) == 81
    assert resolve_port("nope", container) is None


def running(name: str = "app") -> ContainerState:
    return ContainerState(
        id=f"process://u1.{name}.0",
        pod_uid="u1",
        name=name,
        attempt=0,
        status="running",
        started_at=datetime.now(UTC),
    )


def probe(port: int, **kw: int) -> dict:
    return {
        "httpGet": {"port": port, "path": "/"},
        "periodSeconds": 1,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 2,
        **kw,
    }


class Recorder:
    def __init__(self) -> None:
        self.changes: list[str] = []
        self.events: list[tuple[str, str]] = []

    def change(self, uid: str) -> None:
        self.changes.append(uid)

    def emit(self, uid: str, type_: str, reason: str, message: str) -> None:
        self.events.append((reason, message))


async def fast_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.02))  # the probe's period, shortened for the test


async def test_readiness_flips_after_thresholds(app: App) -> None:
    rec = Recorder()
    probers = Probers(None, rec.change, rec.emit, sleep=fast_sleep)  # type: ignore[arg-type]
    state = running()
    probes = probers.ensure({"name": "app", "readinessProbe": probe(app.port)}, state, "127.0.0.1")
    try:
        assert not probes.ready and probes.started
        await eventually(lambda: probes.ready, 5)
        app.code = 503
        await eventually(lambda: not probes.ready, 5)
        assert (
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        ) in rec.events
        assert rec.changes.count("u1") >= 2
        assert probers.results("u1") == ({state.id: False}, {state.id: True})
    finally:
        probers.stop_all()


async def test_liveness_failure_marks_the_container_failed(app: App) -> None:
    rec = Recorder()
    probers = Probers(None, rec.change, rec.emit, sleep=fast_sleep)  # type: ignore[arg-type]
    app.code = 500
    probes = probers.ensure(
        {"name": "app", "livenessProbe": probe(app.port)}, running(), "127.0.0.1"
    )
    try:
        await eventually(lambda: probes.failed, 5)
        assert probes.failed == "Liveness probe failed: HTTP probe failed with statuscode: 500"
        assert app.requests == 2  # failureThreshold tries, then it stops
    finally:
        probers.stop_all()


async def test_startup_probe_gates_liveness_and_readiness(app: App) -> None:
    rec = Recorder()
    probers = Probers(None, rec.change, rec.emit, sleep=fast_sleep)  # type: ignore[arg-type]
    app.code = 500
    container = {
        "name": "app",
        "startupProbe": probe(app.port, failureThreshold=1000),
        "livenessProbe": probe(app.port, failureThreshold=1),
        "readinessProbe": probe(app.port),
    }
    probes = probers.ensure(container, running(), "127.0.0.1")
    try:
        await eventually(lambda: app.requests >= 5, 5)
        assert not probes.started and not probes.failed and not probes.ready  # liveness held back
        app.code = 200
        await eventually(lambda: probes.started and probes.ready, 5)
        assert not probes.failed
    finally:
        probers.stop_all()

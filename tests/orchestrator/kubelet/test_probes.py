"""Probes against real sockets on loopback: HTTP status codes, TCP, thresholds, startup gating."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from support.wait import eventually

from orchestrator.kubelet.probes import GROWTH, Probers, http_probe, resolve_port, tcp_probe
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


class ScriptedSleep:
    """Records each pause a probe loop asks for and takes none; ``script[i]`` runs at pause i.
    Past ``stop_after`` pauses it blocks, so that the counts the test reads stay put."""

    def __init__(self, stop_after: int, script: dict[int, Callable[[], None]] | None = None):
        self.pauses: list[float] = []
        self.stop_after = stop_after
        self.script = script or {}
        self.blocked = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if len(self.pauses) > self.stop_after:
            self.blocked.set()
            await asyncio.Event().wait()
        self.script.get(len(self.pauses), lambda: None)()
        await asyncio.sleep(0)


# The pauses before quick tries with a period of 1 s, as no time passes in these tests:
# 50 ms, each a quarter longer, while one still fits in the period.
QUICK = [0.05 * GROWTH**k for k in range(14)]


def regular(pauses: list[float]) -> list[float]:
    return [p for p in pauses if p > QUICK[-1]]  # the period's pauses (about 1 s)


async def test_readiness_tries_again_quickly_until_it_first_passes_and_reports_only_the_period(
    app: App,
) -> None:
    rec = Recorder()
    sleep = ScriptedSleep(stop_after=len(QUICK) + 2)
    probers = Probers(None, rec.change, rec.emit, sleep=sleep)  # type: ignore[arg-type]
    app.code = 503  # not yet serving
    probes = probers.ensure({"name": "app", "readinessProbe": probe(app.port)}, running(), "")
    try:
        await asyncio.wait_for(sleep.blocked.wait(), 5)
    finally:
        probers.stop_all()
    done = sleep.pauses[: sleep.stop_after]
    assert done[: len(QUICK)] == pytest.approx(QUICK)  # all within the first period
    assert len(regular(done)) == 2  # then the period alone
    assert app.requests == len(done) + 1  # the first try, one after each pause
    unhealthy = [e for e in rec.events if e[0] == "Unhealthy"]
    assert len(unhealthy) == 1 + 2  # only the period's tries are reported
    assert not probes.ready


async def test_a_quick_try_that_passes_makes_the_container_ready_and_quick_tries_end(
    app: App,
) -> None:
    rec = Recorder()

    def serve() -> None:
        app.code = 200

    def break_down() -> None:
        app.code = 500

    sleep = ScriptedSleep(stop_after=6, script={2: serve, 3: break_down})
    probers = Probers(None, rec.change, rec.emit, sleep=sleep)  # type: ignore[arg-type]
    app.code = 503
    probes = probers.ensure({"name": "app", "readinessProbe": probe(app.port)}, running(), "")
    try:
        await asyncio.wait_for(sleep.blocked.wait(), 5)
    finally:
        probers.stop_all()
    assert sleep.pauses[:2] == pytest.approx(QUICK[:2])  # the try after the second one passed
    assert regular(sleep.pauses[2:]) == sleep.pauses[2:]  # after that, the period only
    assert rec.changes == ["u1", "u1"]  # ready, then not ready after failureThreshold (2)
    assert not probes.ready


async def test_quick_tries_do_not_count_towards_a_startup_probes_failure_threshold(
    app: App,
) -> None:
    rec = Recorder()
    sleep = ScriptedSleep(stop_after=100)
    probers = Probers(None, rec.change, rec.emit, sleep=sleep)  # type: ignore[arg-type]
    app.code = 500
    probes = probers.ensure(
        {"name": "app", "startupProbe": probe(app.port, failureThreshold=2)}, running(), ""
    )
    try:
        await eventually(lambda: probes.failed, 5)
    finally:
        probers.stop_all()
    assert sleep.pauses[: len(QUICK)] == pytest.approx(QUICK)
    assert len(regular(sleep.pauses)) == 1
    assert app.requests == len(QUICK) + 2  # two tries of the period failed it, no quick one
    assert probes.failed == "Startup probe failed: HTTP probe failed with statuscode: 500"

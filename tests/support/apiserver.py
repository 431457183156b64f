"""A real API server for tests: TLS, tokens and a kubeconfig, on a free loopback port.

The server runs in a thread with its own event loop, so that synchronous
clients (kubectl in a subprocess, the ``kubernetes`` package, httpx) and
async tests can all talk to it over the network as they would in use.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from orchestrator import pki
from orchestrator.api.resources import ResourceTypes
from orchestrator.apiserver.allocators import AllocatorSettings
from orchestrator.apiserver.auth import add_token
from orchestrator.apiserver.connections import ConnectionSettings
from orchestrator.apiserver.encryption.reload import ReloadSettings
from orchestrator.apiserver.inflight import InFlightSettings
from orchestrator.apiserver.maintenance import MaintenanceSettings
from orchestrator.apiserver.nodeproxy import NodeProxySettings
from orchestrator.apiserver.server import APIServer, APIServerSettings
from orchestrator.apiserver.watch import WatchSettings
from orchestrator.client.config import ClientConfig, write_kubeconfig


@dataclass
class RunningAPI:
    url: str
    token: str
    data_dir: Path
    store: str
    server: APIServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    kubeconfig: Path = field(init=False)

    def __post_init__(self) -> None:
        self.kubeconfig = self.data_dir / "kubeconfig"

    @property
    def ca(self) -> Path:
        return self.data_dir / "ca.crt"

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if token == "":
            headers = {}
        return httpx.Client(
            base_url=self.url,
            verify=ssl.create_default_context(cafile=str(self.ca)),
            headers=headers,
            timeout=30,
        )

    def serve_types(self, types: ResourceTypes) -> None:
        """Change the kinds the running server serves, as establishing a CRD does.

        Done on the server's loop, and as the base its CRD controller serves custom kinds on:
        that controller's first pass, still running under load, would otherwise publish the
        kinds it started with over these."""
        server = self.server

        async def change() -> None:
            assert server.state is not None and server.definitions is not None
            server.definitions.base = types
            server.state.types = types

        asyncio.run_coroutine_threadsafe(change(), self.loop).result(10)

    def client_config(self) -> ClientConfig:
        return ClientConfig(server=self.url, token=self.token, ca_data=self.ca.read_bytes())

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop)
        fut.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def start_api(
    data_dir: Path,
    store: str = "sqlite",
    *,
    maintenance: MaintenanceSettings | None = None,
    watch: WatchSettings | None = None,
    port: int = 0,
    service_cidr: str = AllocatorSettings.service_cidr,
    advertise_address: str = "",
    encryption_config: Path | None = None,
    encryption_rewrite_on_start: bool = True,
    encryption_reload: ReloadSettings | None = None,
    connections: ConnectionSettings | None = None,
    inflight: InFlightSettings | None = None,
    authorization_modes: tuple[str, ...] = APIServerSettings.authorization_modes,
) -> RunningAPI:
    """Start a server on ``data_dir``; give the ``port`` of a stopped one to restart it there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = pki.ensure_ca(data_dir)
    cert = pki.ensure_serving_cert(data_dir / "tls", ca, "apiserver", ["127.0.0.1", "localhost"])
    kubelet_client = pki.ensure_client_cert(data_dir / "tls", ca, "apiserver-kubelet-client")
    token = add_token(data_dir / "tokens.json", user="admin", groups=["system:masters"])
    settings = APIServerSettings(
        data_dir=data_dir,
        port=port,
        store=store,
        tls_cert=cert.cert,
        tls_key=cert.key,
        tokens_file=data_dir / "tokens.json",
        maintenance=maintenance or MaintenanceSettings(),
        watch=watch or WatchSettings(),
        nodes=NodeProxySettings(client_cert=kubelet_client),  # reaches node agents (logs)
        allocators=AllocatorSettings(service_cidr=service_cidr),
        gc_thresholds=None,  # the test process keeps Python's own garbage collection
        advertise_address=advertise_address,
        encryption_config=encryption_config,
        encryption_rewrite_on_start=encryption_rewrite_on_start,
        encryption_reload=encryption_reload or ReloadSettings(),
        connections=connections or ConnectionSettings(),
        inflight=inflight or InFlightSettings(),
        authorization_modes=authorization_modes,
    )
    server = APIServer(settings)
    loop = asyncio.new_event_loop()
    started: dict[str, object] = {}
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            try:
                started["url"] = await server.start()
            except BaseException as exc:  # handed to the starting thread
                started["error"] = exc
            finally:
                ready.set()

        booting = loop.create_task(boot())
        loop.run_forever()
        booting.cancel()
        loop.close()

    thread = threading.Thread(target=run, name="apiserver", daemon=True)
    thread.start()
    if not ready.wait(60):
        raise RuntimeError("API server did not start within 60s")
    if "error" in started:
        raise RuntimeError("API server failed to start") from started["error"]  # type: ignore[arg-type]
    url = str(started["url"])
    write_kubeconfig(data_dir / "kubeconfig", server=url, token=token, ca_pem=ca.cert.read_bytes())
    return RunningAPI(
        url=url,
        token=token,
        data_dir=data_dir,
        store=store,
        server=server,
        loop=loop,
        thread=thread,
    )


async def _wipe(endpoint: str) -> None:
    import aetcd

    host, port = endpoint.rsplit(":", 1)
    async with aetcd.Client(host=host, port=int(port)) as client:
        await client.delete_prefix(b"/")


def store_for(request: pytest.FixtureRequest) -> str:
    """The store a ``params=["sqlite", "etcd"]`` fixture names: "sqlite", or a wiped
    "etcd://host:port" of the session's etcd."""
    if request.param == "sqlite":
        return "sqlite"
    endpoint = request.getfixturevalue("etcd_endpoint")
    wipe_etcd(endpoint)
    return f"etcd://{endpoint}"


def wipe_etcd(endpoint: str) -> None:
    """Remove every key, so each test starts from an empty cluster."""
    asyncio.run(_wipe(endpoint))


class WatchStream:
    """An open watch (``?watch=1``): read events one at a time, each within a deadline.

    ``next()`` fails the test with httpx.ReadTimeout when no complete line arrives in time;
    ``raw_lines`` keeps every line as received (with its ``\\n``) for framing checks.
    """

    def __init__(
        self,
        http: httpx.Client,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        query = {"watch": "1", **(params or {})}
        self._cm = http.stream(
            "GET", path, params=query, headers=headers, timeout=httpx.Timeout(timeout)
        )
        self.response = self._cm.__enter__()
        self._chunks = self.response.iter_raw()
        self._buffer = b""
        self.raw_lines: list[bytes] = []

    def next(self) -> dict:
        """The next event; raises StopIteration when the server ends the stream."""
        import json

        while b"\n" not in self._buffer:
            self._buffer += next(self._chunks)
        line, self._buffer = self._buffer.split(b"\n", 1)
        self.raw_lines.append(line + b"\n")
        return json.loads(line)

    def events(self, count: int) -> list[dict]:
        return [self.next() for _ in range(count)]

    def close(self) -> None:
        self._cm.__exit__(None, None, None)

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

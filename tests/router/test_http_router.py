"""The HTTP router end to end on loopback: a real API server, real backends, real clients.

The router runs in the test's loop (``run_router``) against the ``sqlite_api``
server; backends are aiohttp servers on 127.0.0.1 named by Endpoints objects
created through the API, as the endpoints controller would.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web
from support.apiserver import RunningAPI
from support.wait import eventually, eventually_async

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.client.rest import APIClient
from paas.up.definitions import install_definitions, platform_definitions
from router.ingresscontroller import (
    ENDPOINTS,
    INGRESS_CLASSES,
    INGRESSES,
    SERVICES,
    IngressController,
    RouterSettings,
    run_router,
)
from router.proxy import ProxySettings

MB = 1024 * 1024


@dataclass
class Running:
    controller: IngressController
    client: APIClient
    http: httpx.AsyncClient
    backend_port: int

    @property
    def url(self) -> str:
        return self.controller.url


async def echo(request: web.Request) -> web.Response:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return web.json_response(
        {
            "path": request.path_qs,
            "method": request.method,
            "headers": dict(request.headers),
            "peer_port": peer[1] if peer else 0,
        }
    )


async def upload(request: web.Request) -> web.Response:
    digest, size = hashlib.sha256(), 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return web.json_response(
        {
            "size": size,
            "sha256": digest.hexdigest(),
            "te": request.headers.get("Transfer-Encoding", ""),
        }
    )


async def download(request: web.Request) -> web.StreamResponse:
    size = int(request.query["size"])
    response = web.StreamResponse()  # no length: chunked
    await response.prepare(request)
    block = b"x" * (256 * 1024)
    sent = 0
    while sent < size:
        part = block[: size - sent]
        await response.write(part)
        sent += len(part)
    await response.write_eof()
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


@pytest.fixture
async def backend_port() -> AsyncIterator[int]:
    app = web.Application(client_max_size=100 * MB)
    app.router.add_route("*", "/echo{tail:.*}", echo)
    app.router.add_post("/upload", upload)
    app.router.add_get("/download", download)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


@pytest.fixture
async def router(sqlite_api: RunningAPI, backend_port: int) -> AsyncIterator[Running]:
    settings = RouterSettings(port=0, proxy=ProxySettings(header_timeout=0.5))
    async with APIClient(sqlite_api.client_config()) as client:
        await install_definitions(client, platform_definitions(("router",)))
        serving: asyncio.Future[IngressController] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_router(client, settings, serving.set_result))
        try:
            controller = await asyncio.wait_for(asyncio.shield(serving), 30)
            async with httpx.AsyncClient(base_url=controller.url, timeout=10) as http:
                yield Running(controller, client, http, backend_port)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def ingress(name: str, host: str, service: str, port: Any = 80, **spec: Any) -> Obj:
    key = "number" if isinstance(port, int) else "name"
    backend = {"service": {"name": service, "port": {key: port}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
            **spec,
        },
    }


async def publish(running: Running, name: str, port: int | None, ready: bool = True) -> None:
    """A Service ``name`` (port 80, "http") whose Endpoints name ``127.0.0.1:port``."""
    await running.client.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
        "default",
    )
    subset: dict[str, Any] = {"ports": [{"name": "http", "port": port or 1}]}
    if port is not None:
        subset["addresses" if ready else "notReadyAddresses"] = [{"ip": "127.0.0.1"}]
    await running.client.create(
        ENDPOINTS,
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name}, "subsets": [subset]},
        "default",
    )


async def get_when_routed(running: Running, host: str, path: str = "/echo") -> httpx.Response:
    async def answered() -> httpx.Response | None:
        r = await running.http.get(path, headers={"Host": host})
        return r if r.status_code != 404 else None

    return await eventually_async(answered, timeout=5, message=f"{host} never routed")


async def test_creates_the_default_ingress_class_paas(router: Running) -> None:
    cls = await router.client.get(INGRESS_CLASSES, "paas")
    assert cls["spec"]["controller"] == "paas.dev/router"
    assert cls["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"


async def test_new_ingress_routes_to_ready_endpoints_with_forwarded_headers(
    router: Running,
) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await get_when_routed(router, "web.localhost:8080", "/echo/a?b=c")
    assert loop.time() - started < 1.0  # routable within a second of the Ingress
    assert r.status_code == 200
    seen = r.json()
    assert seen["path"] == "/echo/a?b=c"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == "web.localhost:8080"  # forwarded unchanged
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == "web.localhost:8080"
    assert headers["x-forwarded-proto"] == "http"


async def test_client_x_forwarded_for_is_replaced_not_trusted(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    r = await router.http.get(
        "/echo", headers={"Host": "web.localhost", "X-Forwarded-For": "6.6.6.6"}
    )
    assert r.json()["headers"]["X-Forwarded-For"] == "127.0.0.1"


async def test_ingress_status_shows_the_router_address(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")

    async def status() -> Any:
        obj = await router.client.get(INGRESSES, "web", "default")
        return (obj.get("status") or {}).get("loadBalancer", {}).get("ingress")

    entries = await eventually_async(status, message="status.loadBalancer never written")
    assert entries == [
        {"ip": "127.0.0.1", "ports": [{"port": router.controller.port, "protocol": "TCP"}]}
    ]


async def test_ingress_of_another_class_is_ignored(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    other = ingress("other", "other.localhost", "web", ingressClassName="nginx")
    await router.client.create(INGRESSES, other, "default")
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    r = await router.http.get("/echo", headers={"Host": "other.localhost"})
    assert r.status_code == 404


async def test_unknown_host_gets_a_404_page_listing_the_routable_hosts(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    r = await router.http.get("/", headers={"Host": "nope.localhost"})
    assert r.status_code == 404
    assert "nope.localhost" in r.text and "web.localhost" in r.text


async def test_backend_port_by_name_and_pooled_connections(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web", "http"), "default")
    await get_when_routed(router, "web.localhost")
    ports = {
        (await router.http.get("/echo", headers={"Host": "web.localhost"})).json()["peer_port"]
        for _ in range(5)
    }
    assert len(ports) == 1  # one kept connection to the pod, reused


async def test_no_ready_endpoint_is_a_503_that_says_so(router: Running) -> None:
    await publish(router, "web", router.backend_port, ready=False)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    r = await get_when_routed(router, "web.localhost")
    assert r.status_code == 503
    assert "has no ready endpoint (1 not ready)" in r.text


async def test_missing_service_is_a_503_naming_it(router: Running) -> None:
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "gone"), "default")
    r = await get_when_routed(router, "web.localhost")
    assert r.status_code == 503 and "default/gone does not exist" in r.text


async def test_refused_connection_is_a_502_naming_the_pod(router: Running) -> None:
    await publish(router, "web", 1)  # nothing listens on port 1
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    r = await get_when_routed(router, "web.localhost")
    assert r.status_code == 502
    assert "127.0.0.1:1" in r.text and "cannot connect" in r.text


async def test_slow_pod_is_a_504_after_the_header_timeout(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    r = await router.http.get("/slow", headers={"Host": "web.localhost"})
    assert r.status_code == 504 and "did not answer in time" in r.text


async def test_large_bodies_stream_both_ways_chunked(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    block = b"y" * MB

    async def body() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield block

    r = await router.http.post("/upload", content=body(), headers={"Host": "web.localhost"})
    assert r.status_code == 200
    assert r.json()["size"] == 32 * MB
    assert r.json()["sha256"] == hashlib.sha256(block * 32).hexdigest()
    assert r.json()["te"] == "chunked"
    size = 0
    async with router.http.stream(
        "GET", f"/download?size={48 * MB}", headers={"Host": "web.localhost"}
    ) as down:
        assert down.headers["transfer-encoding"] == "chunked"
        async for chunk in down.aiter_raw():
            size += len(chunk)
    assert size == 48 * MB


async def test_head_request_answers_without_a_body_and_keeps_the_connection(
    router: Running,
) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    for _ in range(3):
        r = await router.http.head("/echo", headers={"Host": "web.localhost"})
        assert r.status_code == 200 and r.content == b""
    r = await router.http.get("/echo", headers={"Host": "web.localhost"})
    assert r.json()["method"] == "GET"


async def test_one_access_log_line_per_request(
    router: Running, caplog: pytest.LogCaptureFixture
) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    caplog.set_level(logging.INFO, logger="router.access")
    caplog.clear()
    await router.http.get("/echo/logged", headers={"Host": "web.localhost"})
    lines = await eventually(lambda: [r for r in caplog.records if r.name == "router.access"])
    assert len(lines) == 1
    text = lines[0].getMessage()
    assert '"GET /echo/logged HTTP/1.1" 200' in text and "web.localhost" in text


async def test_deleted_ingress_stops_routing(router: Running) -> None:
    await publish(router, "web", router.backend_port)
    await router.client.create(INGRESSES, ingress("web", "web.localhost", "web"), "default")
    await get_when_routed(router, "web.localhost")
    await router.client.delete(INGRESSES, "web", "default")

    async def gone() -> bool:
        r = await router.http.get("/echo", headers={"Host": "web.localhost"})
        return r.status_code == 404

    await eventually_async(gone, timeout=10)  # a loaded 2-core machine delays the watch
    with pytest.raises(errors.NotFound):
        await router.client.get(INGRESSES, "web", "default")

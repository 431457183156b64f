"""Gateway API, the activator and the metrics port, end to end on loopback.

The router runs in the test's loop (``run_router``) against the ``sqlite_api``
server with the router's CRDs installed as ``paas up`` installs them; the
backends are aiohttp servers on 127.0.0.1, or a real ``python -m
http.server`` process for the pod that becomes ready while requests wait,
published through a Service and Endpoints that the test writes as the
endpoints controller would.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from support.apiserver import RunningAPI
from support.wait import eventually, eventually_async

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.client.rest import APIClient
from paas.up.definitions import install_definitions, platform_definitions
from router.activator import ActivatorSettings
from router.backends import MAX_REQUESTS_ANNOTATION
from router.gatewaycontroller import GATEWAY_CLASSES, GATEWAYS, HTTPROUTES
from router.ingresscontroller import (
    ENDPOINTS,
    INGRESSES,
    SERVICES,
    IngressController,
    RouterSettings,
    run_router,
)


@dataclass
class Running:
    controller: IngressController
    client: APIClient
    http: httpx.AsyncClient
    metrics: str  # http://127.0.0.1:<metrics port>


def named(name: str) -> web.Handler:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(text=name)

    return answer


@pytest.fixture
async def backends() -> AsyncIterator[dict[str, int]]:
    """Two pods answering their own name: ``{"one": port, "two": port}``."""
    runners, ports = [], {}
    for name in ("one", "two"):
        app = web.Application()
        app.router.add_get("/{tail:.*}", named(name))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        ports[name] = runner.addresses[0][1]
    yield ports
    for runner in runners:
        await runner.cleanup()


async def start(sqlite_api: RunningAPI, **settings: Any) -> AsyncIterator[Running]:
    settings.setdefault("port", 0)
    async with APIClient(sqlite_api.client_config()) as client:
        await install_definitions(client, platform_definitions(("router",)))
        serving: asyncio.Future[IngressController] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            run_router(client, RouterSettings(**settings), serving.set_result)
        )
        try:
            controller = await asyncio.wait_for(asyncio.shield(serving), 30)
            async with httpx.AsyncClient(base_url=controller.url, timeout=10) as http:
                yield Running(
                    controller, client, http, f"http://127.0.0.1:{controller.metrics_port}"
                )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def router(sqlite_api: RunningAPI) -> AsyncIterator[Running]:
    async for running in start(
        sqlite_api, activator=ActivatorSettings(queue_limit=3, hold_timeout=30)
    ):
        yield running


async def publish(
    running: Running, name: str, port: int | None, namespace: str = "default", cap: int = 0
) -> None:
    """Service ``name`` (port 80, "http"); its Endpoints list 127.0.0.1:port, or nothing ready.

    ``cap``: at most that many requests per endpoint at once (the router's annotation).
    """
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }
    if cap:
        service["metadata"]["annotations"] = {MAX_REQUESTS_ANNOTATION: str(cap)}
    await running.client.create(SERVICES, service, namespace)
    await running.client.create(ENDPOINTS, endpoints(name, port), namespace)


def endpoints(name: str, port: int | None) -> Obj:
    subset: dict[str, Any] = {"ports": [{"name": "http", "port": port or 1}]}
    if port is not None:
        subset["addresses"] = [{"ip": "127.0.0.1"}]
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name},
        "subsets": [subset],
    }


def httproute(name: str, host: str, *backends: tuple[str, int], timeout: str = "") -> Obj:
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [
            {"group": "", "kind": "Service", "name": b, "port": 80, "weight": w}
            for b, w in backends
        ],
    }
    if timeout:
        rule["timeouts"] = {"request": timeout}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "namespace": "paas-system",
                    "name": "paas",
                }
            ],
            "hostnames": [host],
            "rules": [rule],
        },
    }


def served(running: Running, host: str) -> bool:
    """Whether the router's table has an HTTPRoute for ``host`` (for backends that hold)."""
    gateway = running.controller.proxy.table.gateway
    return gateway is not None and host in gateway.exact


async def routed(running: Running, host: str) -> httpx.Response:
    async def answered() -> httpx.Response | None:
        r = await running.http.get("/", headers={"Host": host})
        return r if r.status_code != 404 else None

    return await eventually_async(answered, timeout=5, message=f"{host} never routed")


async def our_parent(running: Running, name: str) -> dict[str, Any] | None:
    obj = await running.client.get(HTTPROUTES, name, "default")
    for parent in (obj.get("status") or {}).get("parents") or []:
        if parent["controllerName"] == "paas.dev/router":
            return parent
    return None


def condition(parent: dict[str, Any], type_: str) -> tuple[str, str]:
    found = next(c for c in parent["conditions"] if c["type"] == type_)
    return found["status"], found["reason"]


# -- Gateway API ------------------------------------------------------------------------------


async def test_gateway_class_and_gateway_are_created_and_accepted(router: Running) -> None:
    async def accepted() -> Any:
        cls = await router.client.get(GATEWAY_CLASSES, "paas")
        gw = await router.client.get(GATEWAYS, "paas", "paas-system")
        conditions = {
            c["type"]: c["status"] for c in (gw.get("status") or {}).get("conditions") or []
        }
        class_ok = any(
            c["type"] == "Accepted" and c["status"] == "True"
            for c in (cls.get("status") or {}).get("conditions") or []
        )
        return class_ok and conditions.get("Programmed") == "True" and (cls, gw)

    cls, gw = await eventually_async(accepted, message="GatewayClass/Gateway never accepted")
    assert cls["spec"]["controllerName"] == "paas.dev/router"
    listener = gw["spec"]["listeners"][0]
    assert (listener["protocol"], listener["port"]) == ("HTTP", router.controller.port)
    assert listener["allowedRoutes"]["namespaces"]["from"] == "All"
    assert gw["status"]["addresses"] == [{"type": "IPAddress", "value": "127.0.0.1"}]


async def test_weighted_split_of_1000_requests_puts_5_to_15_percent_on_the_small_side(
    router: Running, backends: dict[str, int]
) -> None:
    await publish(router, "hello-00001", backends["one"])
    await publish(router, "hello-00002", backends["two"])
    route = httproute("hello", "hello.default.localhost", ("hello-00001", 90), ("hello-00002", 10))
    await router.client.create(HTTPROUTES, route, "default")
    await routed(router, "hello.default.localhost")
    seen: Counter[str] = Counter()
    for _ in range(1000):
        r = await router.http.get("/", headers={"Host": "hello.default.localhost"})
        seen[r.text] += 1
    assert seen["one"] + seen["two"] == 1000
    assert 50 <= seen["two"] <= 150, seen


async def test_a_tag_host_reaches_its_revision_only(
    router: Running, backends: dict[str, int]
) -> None:
    await publish(router, "hello-00001", backends["one"])
    await publish(router, "hello-00002", backends["two"])
    both = httproute("hello", "hello.default.localhost", ("hello-00001", 50), ("hello-00002", 50))
    tag = httproute("hello-next", "next-hello.default.localhost", ("hello-00002", 100))
    await router.client.create(HTTPROUTES, both, "default")
    await router.client.create(HTTPROUTES, tag, "default")
    await routed(router, "next-hello.default.localhost")
    answers = {
        (await router.http.get("/", headers={"Host": "next-hello.default.localhost"})).text
        for _ in range(50)
    }
    assert answers == {"two"}


async def test_route_status_says_accepted_and_resolved_refs(
    router: Running, backends: dict[str, int]
) -> None:
    await publish(router, "web", backends["one"])
    route = httproute("web", "web.localhost", ("web", 1), ("missing", 1))
    await router.client.create(HTTPROUTES, route, "default")

    async def reported() -> dict[str, Any] | None:
        return await our_parent(router, "web")

    parent = await eventually_async(reported, message="no status.parents entry of ours")
    assert condition(parent, "Accepted") == ("True", "Accepted")
    assert condition(parent, "ResolvedRefs") == ("False", "BackendNotFound")
    assert parent["parentRef"]["name"] == "paas"
    await publish(router, "missing", backends["two"])

    async def resolved() -> bool:
        parent = await our_parent(router, "web")
        return parent is not None and condition(parent, "ResolvedRefs")[0] == "True"

    await eventually_async(resolved, message="ResolvedRefs never turned True")


async def test_httproute_wins_over_an_ingress_for_the_same_host(
    router: Running, backends: dict[str, int]
) -> None:
    await publish(router, "old", backends["one"])
    await publish(router, "new", backends["two"])
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shop"},
        "spec": {
            "rules": [
                {
                    "host": "shop.localhost",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "old", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    await router.client.create(INGRESSES, ingress, "default")
    assert (await routed(router, "shop.localhost")).text == "one"
    await router.client.create(
        HTTPROUTES, httproute("shop", "shop.localhost", ("new", 1)), "default"
    )

    async def accepted() -> bool:
        parent = await our_parent(router, "shop")
        return parent is not None and condition(parent, "Accepted")[0] == "True"

    await eventually_async(accepted, message="the HTTPRoute never accepted")
    # Accepted in status: the router serves it already, so the Ingress can go with no gap.
    r = await router.http.get("/", headers={"Host": "shop.localhost"})
    assert r.text == "two"
    await router.client.delete(INGRESSES, "shop", "default")
    r = await router.http.get("/", headers={"Host": "shop.localhost"})
    assert r.text == "two"


# -- the activator ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def read_signals(metrics: str, lines: list[dict[str, Any]]) -> None:
    async with (
        httpx.AsyncClient(timeout=None) as client,
        client.stream("GET", f"{metrics}/signals") as response,
    ):
        async for line in response.aiter_lines():
            if line.strip():
                lines.append(json.loads(line))


async def test_held_request_is_answered_once_a_pod_becomes_ready_after_a_signal(
    router: Running, tmp_path: Path
) -> None:
    await publish(router, "cold-00001", None)
    await router.client.create(
        HTTPROUTES, httproute("cold", "cold.default.localhost", ("cold-00001", 100)), "default"
    )
    await eventually(lambda: served(router, "cold.default.localhost"))
    signals: list[dict[str, Any]] = []
    follower = asyncio.create_task(read_signals(router.metrics, signals))
    await eventually(lambda: router.controller.signals.subscribers, message="/signals not open")
    request = asyncio.create_task(router.http.get("/", headers={"Host": "cold.default.localhost"}))
    await eventually(lambda: signals, message="no signal on /signals")
    assert signals[0] == {"namespace": "default", "service": "cold-00001", "held": 1}
    assert not request.done()
    (tmp_path / "index.html").write_text("warm")
    port = free_port()
    pod = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        await eventually(listening, message="the pod never listened")
        await router.client.replace(ENDPOINTS, endpoints("cold-00001", port), "default")
        r = await asyncio.wait_for(request, 10)
        assert (r.status_code, r.text) == (200, "warm")
    finally:
        pod.terminate()
        await asyncio.wait_for(pod.wait(), 10)
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


async def test_requests_beyond_the_queue_bound_get_a_503_that_says_so(router: Running) -> None:
    await publish(router, "cold", None)
    await router.client.create(
        HTTPROUTES, httproute("cold", "cold.localhost", ("cold", 1)), "default"
    )
    await eventually(lambda: served(router, "cold.localhost"))
    held = [
        asyncio.create_task(router.http.get("/", headers={"Host": "cold.localhost"}))
        for _ in range(3)
    ]
    activator = router.controller.proxy.activator
    await eventually(lambda: sum(len(q) for q in activator.queues.values()) == 3)
    r = await router.http.get("/", headers={"Host": "cold.localhost"})
    assert r.status_code == 503
    assert "3 requests already wait for a ready pod of Service default/cold" in r.text
    for task in held:
        task.cancel()
    await asyncio.gather(*held, return_exceptions=True)


async def test_a_request_held_past_the_route_timeout_gets_a_504_page(router: Running) -> None:
    await publish(router, "cold", None)
    await router.client.create(
        HTTPROUTES, httproute("cold", "cold.localhost", ("cold", 1), timeout="1s"), "default"
    )
    await eventually(lambda: served(router, "cold.localhost"))
    r = await router.http.get("/", headers={"Host": "cold.localhost"})
    assert r.status_code == 504
    assert "No pod became ready in time" in r.text
    assert "Service default/cold had no ready endpoint for 1s" in r.text
    assert router.controller.proxy.activator.queues == {}


# -- at most n requests per endpoint (containerConcurrency) -----------------------------------

POD = """
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name, delay = sys.argv[1], float(sys.argv[2])
lock = threading.Lock()
now = most = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global now, most
        if self.path == "/most":
            body = str(most).encode()
        else:
            with lock:
                now += 1
                most = max(most, now)
            time.sleep(delay)
            with lock:
                now -= 1
            body = name.encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@pytest.fixture
async def pods(tmp_path: Path) -> AsyncIterator[Callable[[str, float], Awaitable[int]]]:
    """Starts pod processes answering their name after ``delay`` seconds; gives their port."""
    script = tmp_path / "pod.py"
    script.write_text(POD)
    started: list[asyncio.subprocess.Process] = []

    async def pod(name: str, delay: float) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), name, str(delay), stdout=subprocess.PIPE
        )
        started.append(process)
        assert process.stdout is not None
        return int(await asyncio.wait_for(process.stdout.readline(), 10))

    yield pod
    for process in started:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


def endpoints_at(name: str, *ports: int) -> Obj:
    """Endpoints with one ready 127.0.0.1 address per port (one subset each)."""
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name},
        "subsets": [
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": p}]}
            for p in ports
        ],
    }


async def capped_route(running: Running, name: str, port: int, cap: int) -> str:
    await publish(running, name, port, cap=cap)
    host = f"{name}.default.localhost"
    await running.client.create(HTTPROUTES, httproute(name, host, (name, 100)), "default")
    await eventually(lambda: served(running, host), message=f"{host} never routed")
    return host


async def test_with_one_request_per_pod_four_at_once_all_succeed_one_at_a_time(
    router: Running, pods: Callable[[str, float], Awaitable[int]]
) -> None:
    port = await pods("slow", 0.5)
    host = await capped_route(router, "slow-00001", port, cap=1)
    signals: list[dict[str, Any]] = []
    follower = asyncio.create_task(read_signals(router.metrics, signals))
    await eventually(lambda: router.controller.signals.subscribers, message="/signals not open")
    try:
        requests = [
            asyncio.create_task(router.http.get("/", headers={"Host": host})) for _ in range(4)
        ]
        key = (("namespace", "default"), ("service", "slow-00001"))

        async def held() -> float:
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"{router.metrics}/metrics")).text
            return samples(text).get(("paas_router_held", key), 0)

        assert await eventually_async(held, message="waiting requests never counted as held")
        answers = await asyncio.wait_for(asyncio.gather(*requests), 20)
        assert [(r.status_code, r.text) for r in answers] == [(200, "slow")] * 4
        async with httpx.AsyncClient() as direct:
            assert (await direct.get(f"http://127.0.0.1:{port}/most")).text == "1"
        await eventually(lambda: signals, message="no signal for requests waiting for a slot")
        assert signals[0]["service"] == "slow-00001"
        capacity = router.controller.proxy.capacity
        assert all(not slots.busy for slots in capacity.backends.values())  # every slot freed
        assert router.controller.proxy.activator.queues == {}
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


async def test_a_new_endpoint_takes_the_requests_waiting_for_a_slot_at_once(
    router: Running, pods: Callable[[str, float], Awaitable[int]]
) -> None:
    busy = await pods("busy", 60)
    host = await capped_route(router, "pair-00001", busy, cap=1)
    stuck = asyncio.create_task(router.http.get("/", headers={"Host": host}))
    activator = router.controller.proxy.activator
    capacity = router.controller.proxy.capacity
    await eventually(lambda: capacity.backends and any(s.busy for s in capacity.backends.values()))
    waiting = [asyncio.create_task(router.http.get("/", headers={"Host": host})) for _ in range(2)]
    await eventually(lambda: sum(len(q) for q in activator.queues.values()) == 2)
    fresh = await pods("fresh", 0)
    await router.client.replace(ENDPOINTS, endpoints_at("pair-00001", busy, fresh), "default")
    answers = await asyncio.wait_for(asyncio.gather(*waiting), 10)
    assert [(r.status_code, r.text) for r in answers] == [(200, "fresh")] * 2
    assert not stuck.done()  # the busy pod still holds its one request
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)


async def test_requests_waiting_for_a_slot_beyond_the_queue_bound_get_a_503(
    router: Running, pods: Callable[[str, float], Awaitable[int]]
) -> None:
    port = await pods("busy", 60)
    host = await capped_route(router, "full-00001", port, cap=1)
    tasks = [asyncio.create_task(router.http.get("/", headers={"Host": host})) for _ in range(4)]
    activator = router.controller.proxy.activator
    await eventually(lambda: sum(len(q) for q in activator.queues.values()) == 3)
    r = await router.http.get("/", headers={"Host": host})
    assert r.status_code == 503
    assert "3 requests already wait for a free slot (at most 1 requests per pod)" in r.text
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_websocket_holds_its_slot_until_it_closes(router: Running) -> None:
    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_get("/", named("plain"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        host = await capped_route(router, "ws-00001", runner.addresses[0][1], cap=1)
        activator = router.controller.proxy.activator
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{router.controller.url}/ws", headers={"Host": host})
            await ws.send_str("hi")
            assert (await ws.receive_str()) == "hi"
            plain = asyncio.create_task(router.http.get("/", headers={"Host": host}))
            await eventually(lambda: sum(len(q) for q in activator.queues.values()) == 1)
            await ws.close()
            r = await asyncio.wait_for(plain, 10)
            assert (r.status_code, r.text) == (200, "plain")
    finally:
        await runner.cleanup()


# -- metrics and publishing -------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_parse_and_concurrency_grows_while_requests_are_in_flight(
    router: Running, backends: dict[str, int]
) -> None:
    await publish(router, "web", backends["one"])
    await publish(router, "cold", None)
    await router.client.create(HTTPROUTES, httproute("web", "web.localhost", ("web", 1)), "default")
    await router.client.create(
        HTTPROUTES, httproute("cold", "cold.localhost", ("cold", 1)), "default"
    )
    await routed(router, "web.localhost")
    await eventually(lambda: served(router, "cold.localhost"), message="cold.localhost not routed")
    held = asyncio.create_task(router.http.get("/", headers={"Host": "cold.localhost"}))
    activator = router.controller.proxy.activator
    await eventually(lambda: activator.queues)
    key = (("namespace", "default"), ("service", "cold"))
    seconds = ("paas_router_concurrency_seconds_total", key)
    async with httpx.AsyncClient() as client:
        first = samples((await client.get(f"{router.metrics}/metrics")).text)

        async def grown() -> dict[Any, float] | None:
            now = samples((await client.get(f"{router.metrics}/metrics")).text)
            return now if now[seconds] > first[seconds] else None

        second = await eventually_async(grown, message="the concurrency counter stood still")
    assert first[("paas_router_held", key)] == 1
    assert first[("paas_router_in_flight", key)] == 1
    assert second[("paas_router_in_flight", key)] == 1  # grew while the request was in flight
    web_key = (("namespace", "default"), ("service", "web"))
    assert second[("paas_router_requests_total", (("code", "200"), *web_key))] >= 1
    assert second[("paas_router_request_duration_seconds_count", web_key)] >= 1
    held.cancel()
    await asyncio.gather(held, return_exceptions=True)


async def test_router_lists_itself_in_the_routers_endpoints_and_leaves_on_stop(
    sqlite_api: RunningAPI,
) -> None:
    async with APIClient(sqlite_api.client_config()) as client:

        async def addresses() -> list[tuple[str, int, int]]:
            try:
                eps = await client.get(ENDPOINTS, "paas-router", "paas-system")
            except errors.NotFound:
                return []
            found = []
            for subset in eps.get("subsets") or []:
                ports = {p["name"]: p["port"] for p in subset["ports"]}
                for a in subset.get("addresses") or []:
                    found.append((a["ip"], ports["http"], ports["metrics"]))
            return sorted(found)

        ports = []
        async for running in start(sqlite_api):
            ports.append((running.controller.port, running.controller.metrics_port))
            async for other in start(sqlite_api):
                ports.append((other.controller.port, other.controller.metrics_port))
                listed = await addresses()
                assert listed == sorted(("127.0.0.1", h, m) for h, m in ports)
            assert await addresses() == [("127.0.0.1", *ports[0])]
        assert await addresses() == []
        service = await client.get(SERVICES, "paas-router", "paas-system")
        assert "selector" not in service["spec"]

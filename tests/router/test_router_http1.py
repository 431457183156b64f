"""The router's HTTP/1.1 server and relay at the protocol level: real clients, real pods.

The proxy is served by ``router.server.HTTPServer`` on 127.0.0.1:0 with a
fixed route table (every host to one Service whose Endpoints name an
aiohttp pod on loopback), so these tests reach what the end-to-end tests in
``test_http_router.py`` cannot drive through httpx: pipelining, raw
malformed requests, 100-continue, HTTP/1.0, timeouts, WebSockets,
back-pressure and graceful shutdown.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from support.wait import eventually

from router.http1 import ServerSettings
from router.ingresscontroller import ingress_class
from router.ingressroutes import build_routes
from router.proxy import Backends, Proxy, ProxySettings
from router.server import HTTPServer

MB = 1024 * 1024


@dataclass
class Site:
    host: str
    port: int
    pod_port: int
    server: HTTPServer
    pod_requests: list[str]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "path": request.path_qs,
            "method": request.method,
            "headers": dict(request.headers),
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    )


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "1")))
    return web.Response(text="late")


async def ignore_body(request: web.Request) -> web.Response:
    await asyncio.sleep(30)  # never reads the upload: the router must stop reading too
    return web.Response(text="never")


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(f"echo: {message.data}")
        elif message.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(message.data[::-1])
    return ws


@pytest.fixture
async def pod() -> AsyncIterator[tuple[int, list[str]]]:
    seen: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> Any:
        seen.append(request.path)
        return await handler(request)

    app = web.Application(client_max_size=300 * MB, middlewares=[record])
    app.router.add_route("*", "/echo{tail:.*}", echo)
    app.router.add_get("/slow", slow)
    app.router.add_post("/ignore", ignore_body)
    app.router.add_get("/ws", websocket)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1], seen
    await runner.cleanup()


def serve_pod_at(port: int) -> Proxy:
    service = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }
    subset = {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": port}]}
    endpoints = {"metadata": {"name": "web", "namespace": "default"}, "subsets": [subset]}
    proxy = Proxy(Backends(lambda _n, _s: service, lambda _n, _s: endpoints), ProxySettings())
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    rule = {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
    ingress = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"rules": [rule]}}
    ours = ingress_class("paas", "paas.dev/router")
    proxy.table = build_routes([ingress], [ours], "paas.dev/router")
    return proxy


Start = Callable[..., Awaitable[Site]]


@pytest.fixture
async def start_site(pod: tuple[int, list[str]]) -> AsyncIterator[Start]:
    started: list[tuple[HTTPServer, Proxy]] = []
    OPENED.clear()

    async def start(**settings: Any) -> Site:
        proxy = serve_pod_at(pod[0])
        server = HTTPServer(proxy, ServerSettings(**settings))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        await server.start(sock)
        started.append((server, proxy))
        return Site("127.0.0.1", sock.getsockname()[1], pod[0], server, pod[1])

    yield start
    for writer in OPENED:
        writer.transport.abort()
    for server, proxy in started:
        await server.shutdown(0.5)
        proxy.close()


@pytest.fixture
async def site(start_site: Start) -> Site:
    return await start_site()


OPENED: list[asyncio.StreamWriter] = []  # raw connections, aborted at the end of each test


async def open_raw(site: Site) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(site.host, site.port)
    OPENED.append(writer)
    return reader, writer


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length or chunked body, read off a raw socket."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            body += await reader.readexactly(size + 2)
            body = body[:-2]
            if size == 0:
                break
    else:
        body = b""
    return status, headers, body


async def test_pipelined_requests_are_answered_in_order_on_one_connection(site: Site) -> None:
    reader, writer = await open_raw(site)
    writer.write(
        b"".join(b"GET /echo/%d HTTP/1.1\r\nHost: web.localhost\r\n\r\n" % i for i in range(1, 6))
    )
    paths = []
    for _ in range(5):
        status, _, body = await read_answer(reader)
        assert status == 200
        paths.append(json.loads(body)["path"])
    assert paths == [f"/echo/{i}" for i in range(1, 6)]


async def test_expect_100_continue_is_answered_before_the_body_is_sent(site: Site) -> None:
    reader, writer = await open_raw(site)
    writer.write(
        b"POST /echo HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"hello")
    status, _, body = await read_answer(reader)
    seen = json.loads(body)
    assert status == 200 and seen["size"] == 5
    assert "Expect" not in seen["headers"]  # answered by the router, not passed on


async def test_hop_by_hop_headers_are_dropped_and_forwarded_headers_set(site: Site) -> None:
    reader, writer = await open_raw(site)
    writer.write(
        b"GET /echo HTTP/1.1\r\nHost: web.localhost:8080\r\nConnection: keep-alive, X-Secret\r\n"
        b"X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nForwarded: for=6.6.6.6\r\n"
        b"X-Forwarded-Proto: https\r\nX-Kept: yes\r\n\r\n"
    )
    _, _, body = await read_answer(reader)
    headers = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    for gone in ("x-secret", "keep-alive", "te", "forwarded"):
        assert gone not in headers
    assert headers["x-kept"] == "yes"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "web.localhost:8080"
    assert headers["x-forwarded-port"] == str(site.port)


async def test_absolute_form_target_reaches_the_pod_as_a_path(site: Site) -> None:
    reader, writer = await open_raw(site)
    writer.write(b"GET http://web.localhost/echo/abs?x=1 HTTP/1.1\r\nHost: web.localhost\r\n\r\n")
    status, _, body = await read_answer(reader)
    assert status == 200 and json.loads(body)["path"] == "/echo/abs?x=1"


async def test_oversized_request_head_is_answered_431_and_closed(start_site: Start) -> None:
    site = await start_site(max_head_bytes=4096)
    reader, writer = await open_raw(site)
    writer.write(
        b"GET /echo HTTP/1.1\r\nHost: web.localhost\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n"
    )
    status, headers, body = await read_answer(reader)
    assert status == 431 and headers["connection"] == "close"
    assert b"too large" in body
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed
    assert site.pod_requests == []


async def test_bytes_that_are_not_http_are_answered_400_and_closed(site: Site) -> None:
    reader, writer = await open_raw(site)
    writer.write(b"HELLO THERE\r\n\r\n")
    status, _, _ = await read_answer(reader)
    assert status == 400
    assert await asyncio.wait_for(reader.read(), 10) == b""


async def test_http10_client_gets_the_body_delimited_by_close(site: Site) -> None:
    reader, writer = await open_raw(site)
    writer.write(b"GET /echo HTTP/1.0\r\nHost: web.localhost\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 10)  # ends when the router closes
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["path"] == "/echo"


async def test_idle_client_connection_is_closed_after_the_keep_alive_timeout(
    start_site: Start,
) -> None:
    site = await start_site(keep_alive_timeout=0.3)
    reader, writer = await open_raw(site)
    writer.write(b"GET /echo HTTP/1.1\r\nHost: web.localhost\r\n\r\n")
    status, _, _ = await read_answer(reader)
    assert status == 200
    assert await asyncio.wait_for(reader.read(), 10) == b""


async def test_head_not_sent_in_time_is_answered_408(start_site: Start) -> None:
    site = await start_site(header_read_timeout=0.3)
    reader, writer = await open_raw(site)
    writer.write(b"GET /echo HTTP/1.1\r\nHost: web")  # and nothing more
    status, _, _ = await read_answer(reader)
    assert status == 408
    assert await asyncio.wait_for(reader.read(), 10) == b""


async def test_websocket_messages_go_both_ways_through_the_router(site: Site) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{site.url}/ws", headers={"Host": "web.localhost"}) as ws,
    ):
        await ws.send_str("hi")
        assert (await ws.receive(timeout=10)).data == "echo: hi"
        payload = bytes(range(256)) * 4096  # 1 MiB, several socket reads each way
        await ws.send_bytes(payload)
        assert (await ws.receive(timeout=10)).data == payload[::-1]
        await ws.close()
    # The router still serves plain HTTP afterwards.
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{site.url}/echo", headers={"Host": "web.localhost"}) as r:
            assert r.status == 200


async def test_upgrade_the_pod_refuses_is_relayed_and_the_connection_closed(site: Site) -> None:
    reader, writer = await open_raw(site)
    writer.write(
        b"GET /echo HTTP/1.1\r\nHost: web.localhost\r\nConnection: Upgrade\r\n"
        b"Upgrade: something\r\n\r\n"
    )
    status, headers, body = await read_answer(reader)
    assert status == 200 and headers["connection"] == "close"
    seen = json.loads(body)["headers"]
    assert seen["Upgrade"] == "something"  # the pod was asked
    assert await asyncio.wait_for(reader.read(), 10) == b""


async def test_pod_body_delimited_by_close_reaches_the_client_whole(
    start_site: Start, pod: tuple[int, list[str]]
) -> None:
    site = await start_site()
    # A pod speaking HTTP/1.0 style: no length, the body ends when it closes.
    body = b"z" * 300_000

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    old = await asyncio.start_server(answer, "127.0.0.1", 0)
    proxy = site.server.app
    assert isinstance(proxy, Proxy)
    port = old.sockets[0].getsockname()[1]
    subset = {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": port}]}
    endpoints = {"metadata": {"name": "web"}, "subsets": [subset]}
    service = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    proxy.backends = Backends(lambda _n, _s: service, lambda _n, _s: endpoints)
    async with old:
        reader, writer = await open_raw(site)
        writer.write(b"GET /old HTTP/1.1\r\nHost: web.localhost\r\n\r\n")
        status, headers, got = await read_answer(reader)
        assert status == 200 and headers["transfer-encoding"] == "chunked"
        assert got == body


async def test_upload_to_a_pod_that_does_not_read_is_held_back_not_buffered(site: Site) -> None:
    _reader, writer = await open_raw(site)
    total = 200 * MB
    writer.write(
        b"POST /ignore HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: %d\r\n\r\n" % total
    )
    block = b"u" * MB
    written = 0
    while written < total:
        writer.write(block)
        try:
            await asyncio.wait_for(writer.drain(), 1.0)
        except TimeoutError:
            break  # the client's socket filled: nobody is reading it any more
        written += len(block)
    assert written < 64 * MB  # socket buffers on the way, never the whole upload
    writer.transport.abort()


async def test_client_leaving_mid_answer_leaves_the_router_serving(site: Site) -> None:
    _reader, writer = await open_raw(site)
    writer.write(b"GET /slow?s=0.5 HTTP/1.1\r\nHost: web.localhost\r\n\r\n")
    await eventually(lambda: "/slow" in site.pod_requests)
    writer.transport.abort()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{site.url}/echo", headers={"Host": "web.localhost"}) as r:
            assert r.status == 200


async def test_graceful_shutdown_finishes_the_answer_in_flight_and_stops_accepting(
    site: Site,
) -> None:
    reader, writer = await open_raw(site)
    writer.write(b"GET /slow?s=0.5 HTTP/1.1\r\nHost: web.localhost\r\n\r\n")
    await eventually(lambda: "/slow" in site.pod_requests)
    stopping = asyncio.create_task(site.server.shutdown(5))
    status, headers, body = await read_answer(reader)
    assert status == 200 and body == b"late"
    assert headers["connection"] == "close"
    await stopping
    with pytest.raises(OSError):
        await asyncio.open_connection(site.host, site.port)

"""The reverse proxy: an ASGI app that sends each request to a pod of the matched Service.

Served by uvicorn with httptools (keep-alive to clients, chunked request
bodies decoded, chunked responses when no length is known): see
``router.server``. Per request:

1. ``RouteTable.match(host, path)`` (``router.ingressroutes``); no route: 404
   page listing the hosts served.
2. ``Backends.resolve`` turns the Service and port into ready pod addresses
   from the informer caches; none: 503 page saying why. Addresses are taken
   in turn (round robin).
3. The request goes to the pod over a pooled keep-alive connection
   (``router.upstream``) with its headers as received, minus hop-by-hop ones
   (``Connection`` and what it lists, ``Keep-Alive``, ``TE``,
   ``Transfer-Encoding``, ``Upgrade``, ``Proxy-*``) and ``Expect`` (uvicorn
   answers 100-continue itself), plus ``X-Forwarded-For`` (the peer: a
   client's own value is replaced, not appended, as ingress-nginx does by
   default, so it cannot be spoofed), ``X-Forwarded-Host``/``-Port``/``-Proto``;
   a client's ``Forwarded`` is dropped. ``Host`` is forwarded unchanged.
   The body streams as it arrives: with its ``Content-Length``, or chunked.
4. The answer streams back as the pod sends it; its hop-by-hop headers are
   dropped and uvicorn frames it (length or chunked) for this client.
   Failures before the answer starts: 502 (refused, reset, garbage) or 504
   (no headers within ``header_timeout``) pages naming the pod and Ingress;
   after it starts, the client connection is cut (the status is gone).

No retries, except once on a fresh connection when a pooled one turns out
closed before a byte of answer and the request had no body. One access-log
line per request (logger ``router.access``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from router.backends import Resolution, RoundRobin, resolve
from router.ingressroutes import Route, RouteTable, ServiceRef
from router.pages import error_page, not_found_page
from router.upstream import Connection, Pool, UpstreamClosed, UpstreamError, UpstreamTimeout

access_log = logging.getLogger("router.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    )
)
DROPPED = HOP_BY_HOP | {
    b"expect",
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-port",
    b"x-forwarded-proto",
}


MEMO_LIMIT = 10_000  # backends whose resolution is remembered before the memo restarts


@dataclass(frozen=True)
class ProxySettings:
    header_timeout: float = 300.0  # seconds for a pod's response headers: 504 after (slow apps
    # and cold starts must not be cut: Envoy's 15 s default is its top complaint)
    body_idle_timeout: float = 300.0  # seconds of silence in a streamed body before it is cut
    scheme: str = "http"  # what X-Forwarded-Proto says (TLS comes later)


class Backends:
    """Where the proxy reads Services and Endpoints: the informer caches, behind two lookups."""

    def __init__(
        self,
        service: Callable[[str, str], Any],
        endpoints: Callable[[str, str], Any],
    ) -> None:
        self._service = service
        self._endpoints = endpoints
        self._memo: dict[ServiceRef, tuple[Any, Any, Resolution]] = {}

    def resolve(self, ref: ServiceRef) -> Resolution:
        service = self._service(ref.namespace, ref.name)
        endpoints = self._endpoints(ref.namespace, ref.name)
        # Informers replace an object on every change, so identity says "unchanged" (the memo
        # holds the objects themselves: a freed one's address could be reused by a newer one).
        cached = self._memo.get(ref)
        if cached is not None and cached[0] is service and cached[1] is endpoints:
            return cached[2]
        resolution = resolve(ref, service, endpoints)
        if len(self._memo) > MEMO_LIMIT:
            self._memo.clear()
        self._memo[ref] = (service, endpoints, resolution)
        return resolution


class Proxy:
    """The ASGI app; ``table`` is replaced whole whenever the Ingresses change."""

    def __init__(self, backends: Backends, settings: ProxySettings | None = None) -> None:
        self.settings = settings or ProxySettings()
        self.backends = backends
        self.table = RouteTable()
        self.pool = Pool()
        self.balancer = RoundRobin()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: a later version of the router
        started = time.monotonic()
        host = _header(scope, b"host")
        route = self.table.match(host, scope["raw_path"].decode("latin-1"))
        outcome: tuple[int, int, str]
        if route is None:
            outcome = await _page(send, 404, not_found_page(host, self.table.hosts()), "-")
        else:
            outcome = await self._forward(scope, receive, send, route, host)
        status, sent, upstream = outcome
        client = scope.get("client") or ("-", 0)
        target = scope["raw_path"] + (
            b"?" + scope["query_string"] if scope["query_string"] else b""
        )
        access_log.info(
            '%s %s "%s %s HTTP/%s" %d %d %.1fms %s',
            client[0],
            host or "-",
            scope["method"],
            target.decode("latin-1"),
            scope["http_version"],
            status,
            sent,
            (time.monotonic() - started) * 1000,
            upstream,
        )

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, route: Route, host: str
    ) -> tuple[int, int, str]:
        if route.service is None:
            page = error_page(500, "The route's backend is not a Service", route.unsupported, route)
            return await _page(send, 500, page, "-")
        resolution = self.backends.resolve(route.service)
        if not resolution.addresses:
            page = error_page(503, "No pod can take this request", resolution.problem, route)
            return await _page(send, 503, page, "-")
        address = self.balancer.pick(route.service, resolution.addresses)
        upstream = f"{address[0]}:{address[1]}"
        head, has_body, chunked = self._request_head(scope, host)
        head_only = scope["method"] == "HEAD"
        try:
            conn = await self.pool.acquire(address)
            conn.send_head(head, head_only=head_only)
            if has_body:
                await _send_body(conn, receive, chunked)
            try:
                status, headers = await conn.response(self.settings.header_timeout)
            except UpstreamClosed:
                if has_body:
                    raise
                conn = await _fresh(self.pool, address)
                conn.send_head(head, head_only=head_only)
                status, headers = await conn.response(self.settings.header_timeout)
        except UpstreamTimeout as exc:
            page = error_page(504, f"The pod at {upstream} did not answer in time", str(exc), route)
            return await _page(send, 504, page, upstream)
        except UpstreamError as exc:
            page = error_page(502, f"The pod at {upstream} failed", str(exc), route)
            return await _page(send, 502, page, upstream)
        sent = await self._relay(conn, send, status, headers)
        return status, sent, upstream

    def _request_head(self, scope: Scope, host: str) -> tuple[bytes, bool, bool]:
        """The request line and headers for the pod, and whether a body follows (chunked?)."""
        listed = _connection_tokens(scope["headers"])
        lines = [
            b"%s %s HTTP/1.1\r\n"
            % (
                scope["method"].encode(),
                scope["raw_path"]
                + (b"?" + scope["query_string"] if scope["query_string"] else b""),
            )
        ]
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            lower = name.lower()
            if lower == b"content-length":
                length = value
            elif lower == b"transfer-encoding":
                chunked = True
            if lower in DROPPED or lower in listed:
                continue
            lines.append(b"%s: %s\r\n" % (name, value))
        client = scope.get("client") or ("", 0)
        server = scope.get("server") or ("", 0)
        if not host:
            lines.append(b"host: %s\r\n" % f"{server[0]}:{server[1]}".encode())
        lines.append(b"x-forwarded-for: %s\r\n" % str(client[0]).encode())
        lines.append(b"x-forwarded-host: %s\r\n" % host.encode("latin-1"))
        lines.append(b"x-forwarded-port: %d\r\n" % int(server[1] or 0))
        lines.append(b"x-forwarded-proto: %s\r\n" % self.settings.scheme.encode())
        if chunked:
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"\r\n")
        has_body = chunked or (length is not None and length.strip() not in (b"0", b""))
        return b"".join(lines), has_body, chunked

    async def _relay(
        self, conn: Connection, send: Send, status: int, headers: list[tuple[bytes, bytes]]
    ) -> int:
        listed = _connection_tokens(headers)
        out = [
            (n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in listed
        ]
        await send({"type": "http.response.start", "status": status, "headers": out})
        sent = 0
        try:
            async for chunk in conn.body(self.settings.body_idle_timeout):
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            # The status has gone out already: returning without the last body message makes
            # uvicorn cut the client's connection, so the client sees a truncated answer.
            conn.close()
            access_log.warning("answer from %s:%d cut: %s", *conn.address, exc)
            return sent
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        self.pool.release(conn)
        return sent

    def close(self) -> None:
        self.pool.close()


async def _fresh(pool: Pool, address: tuple[str, int]) -> Connection:
    conn = await pool.acquire(address)
    while conn.reused:  # every idle one may be as stale as the first: dial anew
        conn.close()
        conn = await pool.acquire(address)
    return conn


async def _send_body(conn: Connection, receive: Receive, chunked: bool) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            conn.close()
            raise UpstreamError("the client went away while sending the request body")
        await conn.send_body(message.get("body", b""), chunked=chunked)
        if not message.get("more_body", False):
            conn.end_body(chunked=chunked)
            return


async def _page(send: Send, status: int, body: bytes, upstream: str) -> tuple[int, int, str]:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"%d" % len(body)),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status, len(body), upstream


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope["headers"]:
        if name.lower() == wanted:
            return str(value.decode("latin-1"))
    return ""


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names a ``Connection`` header lists (hop-by-hop for this exchange only)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

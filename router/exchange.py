"""One proxied request: from the client's connection to a pod's and back, by callbacks.

``start`` (the request is first in its connection's queue):

1. ``RouteTable.match(host, path)``; no route: the 404 page listing the
   hosts served. A route to something other than a Service: 500.
2. ``Backends.resolve`` gives the Service's ready pod addresses; none: 503
   page saying why, or, when the Service only has no ready pod yet and the
   route is an HTTPRoute, the request is held by the activator
   (``router.activator``) and continues from here once a pod is ready
   (``released``). Addresses are taken in turn (round robin). The backend's
   stats (``router.metrics``) count the request from here to its end.
   A capped backend (``router.capacity``) takes a pod with a free slot in
   turn instead; when all are full, or requests already wait, the request
   is held likewise and ``admitted`` to a slot in order. Its slot is freed
   when its answer ends (``_log``), or when its splice closes.
3. A pooled connection to the pod (or one dialled: the only awaited step,
   in a task of its own) gets the head (``router.headers``) and the body
   as it arrives, re-chunked when the client sent it chunked; a body that
   arrived before the connection waits in a short list (reading stops past
   ``PENDING_LIMIT``). ``Expect: 100-continue`` is answered once the pod's
   connection is there.
4. The answer streams back as the pod sends it, each read's share written
   in one go; the client's full socket pauses the pod's, and the pod's full
   socket pauses the client's uploads. Failures before the answer started
   give 502 (refused, reset, garbage) or 504 (no head within the route's
   request timeout, counted from the request's arrival, else
   ``header_timeout``) pages naming the pod and route; after it started,
   the client's connection is cut (the status is gone).
5. A 101 to an upgrade request hands both sockets to ``router.splice``.

No retries, except once on a fresh connection when a pooled one turns out
closed before a byte of answer and the request had no body. An answer the
pod gives before the request body ended is relayed, the rest of the body
read and dropped, and the pod's connection closed (it is mid-request). One
access-log line per request (``router.accesslog``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from router.accesslog import log_request
from router.headers import Headers, request_head, response_head
from router.http1 import ClientConnection, Request
from router.ingressroutes import Route, ServiceRef
from router.metrics import BackendStats
from router.pages import error_page, not_found_page
from router.splice import Splice
from router.upstream import Address, Connection, UpstreamClosed, UpstreamError, UpstreamTimeout

if TYPE_CHECKING:
    from router.proxy import Proxy

log = logging.getLogger(__name__)
PENDING_LIMIT = 64 * 1024  # request body bytes held while the pod's connection is dialled
TERMINATOR = b"0\r\n\r\n"


class ProxyExchange:
    __slots__ = (
        "address",
        "answered",
        "backend",
        "capped",
        "chunked_out",
        "client",
        "finished",
        "gone",
        "head",
        "keep_alive",
        "out",
        "pending",
        "pending_bytes",
        "proxy",
        "request",
        "request_done",
        "retried",
        "route",
        "sent",
        "stats",
        "status",
        "upstream",
        "upstream_name",
    )

    def __init__(self, proxy: Proxy, client: ClientConnection, request: Request) -> None:
        self.proxy = proxy
        self.client = client
        self.request = request
        self.head = request_head(
            request.method,
            request.target,
            request.headers,
            peer=client.peer,
            local=client.local,
            scheme=proxy.settings.scheme,
            upgrade=request.upgrade,
        )
        self.route: Route | None = None
        self.backend: ServiceRef | None = None  # set while held, for ``client_lost``
        self.stats: BackendStats | None = None
        self.capped = False  # holds a slot of its backend (``router.capacity``)
        self.address: Address = ("", 0)
        self.upstream: Connection | None = None
        self.upstream_name = "-"
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.request_done = False
        self.answered = False  # the client has its whole answer (or a page)
        self.finished = False
        self.gone = False  # the client went away
        self.retried = False
        self.status = 0
        self.sent = 0
        self.out: list[bytes] = []
        self.chunked_out = False
        self.keep_alive = False

    # -- driven by the client's connection -------------------------------------------------

    def start(self) -> None:
        proxy, request = self.proxy, self.request
        host = self.head.host.decode("latin-1")
        path = request.target.partition(b"?")[0].decode("latin-1")
        route = self.route = proxy.table.match(host, path, request.headers)
        if route is None:
            self._page(404, not_found_page(host, proxy.table.hosts()))
            return
        ref = route.service
        if ref is None:
            reason = route.unsupported
            self._page(500, error_page(500, "The route's backend is not a Service", reason, route))
            return
        stats = self.stats = proxy.stats.of(ref)
        stats.begin()
        resolution = proxy.backends.resolve(ref)
        if resolution.addresses:
            if not resolution.limit:
                self.released(resolution.addresses)
                return
            address = (
                None if proxy.activator.queues.get(ref) else proxy.capacity.take(ref, resolution)
            )
            if address is None:
                self._hold(ref, route, resolution.limit)
            else:
                self.capped = True
                self._forward(address)
        elif resolution.waiting and proxy.holds(route):
            self._hold(ref, route)
        else:
            self._page(
                503, error_page(503, "No pod can take this request", resolution.problem, route)
            )

    def _hold(self, ref: ServiceRef, route: Route, full: int = 0) -> None:
        """Wait for a ready pod, or (``full``: the per-pod cap) for a free slot of one."""
        activator = self.proxy.activator
        timeout = route.timeout or activator.settings.hold_timeout
        if not activator.hold(self, ref, timeout):
            limit = activator.settings.queue_limit
            heading, want = "Too many requests are waiting for this app to start", "a ready pod"
            if full:
                heading = "Too many requests are waiting for this app"
                want = f"a free slot (at most {full} requests per pod)"
            self._page(
                503,
                error_page(
                    503,
                    heading,
                    f"{limit} requests already wait for {want} of Service "
                    f"{ref.namespace}/{ref.name}; try again in a moment",
                    route,
                ),
            )
            return
        self.backend = ref
        assert self.stats is not None
        self.stats.held += 1

    def released(self, addresses: tuple[Address, ...]) -> None:
        """Forward to one of ``addresses`` (at once, or when the activator lets it go)."""
        if self.backend is not None:
            self._unhold()
        if self.gone or self.answered:
            return
        assert self.route is not None and self.route.service is not None
        self._forward(self.proxy.balancer.pick(self.route.service, addresses))

    def admitted(self, ref: ServiceRef, address: Address) -> None:
        """Forward to ``address``, whose slot the activator took for this held request."""
        self._unhold()
        if self.gone or self.answered:
            self.proxy.free(ref, address)
            return
        self.capped = True
        self._forward(address)

    def _unhold(self) -> None:
        self.backend = None
        if self.stats is not None:
            self.stats.held -= 1

    def _forward(self, address: Address) -> None:
        proxy = self.proxy
        self.address = address
        conn = proxy.pool.take(address)
        if conn is None:
            self._dial()
        else:
            self._attach(conn)

    def hold_expired(self) -> None:
        route, ref = self.route, self.backend
        self.backend = None
        if self.stats is not None:
            self.stats.held -= 1
        if self.gone or self.answered or route is None or ref is None:
            return
        waited = time.monotonic() - self.request.started
        heading, had = "No pod became ready in time for this request", "no ready endpoint"
        resolution = self.proxy.backends.resolve(ref)
        if resolution.addresses and resolution.limit:
            heading = "No pod had a free slot in time for this request"
            had = f"every ready endpoint busy with {resolution.limit} requests"
        self._page(
            504,
            error_page(
                504,
                heading,
                f"Service {ref.namespace}/{ref.name} had {had} for {waited:.0f}s",
                route,
            ),
        )

    def request_body(self, data: bytes) -> None:
        if self.answered or self.gone:
            return  # an answer went out already: the rest of the body is read and dropped
        if self.head.chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        if self.upstream is not None:
            self.upstream.send_body(data)
            return
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.pending_bytes > PENDING_LIMIT:
            self.client.pause_reading(True)

    def request_end(self) -> None:
        self.request_done = True
        if self.answered:
            self._finish()
            return
        end = TERMINATOR if self.head.chunked else b""
        if self.upstream is not None:
            self.upstream.end_body(end)
        elif end:
            self.pending.append(end)

    def client_lost(self) -> None:
        self.gone = True
        if self.backend is not None:
            ref, self.backend = self.backend, None
            self.proxy.activator.forget(self, ref)
            if self.stats is not None:
                self.stats.held -= 1
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.close()
        if not self.answered:
            self.answered = True
            self._log(499)

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading(True)

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading(False)

    # -- the pod's connection --------------------------------------------------------------

    def _dial(self) -> None:
        asyncio.get_running_loop().create_task(self._dialled())

    async def _dialled(self) -> None:
        try:
            conn = await self.proxy.pool.dial(self.address)
        except UpstreamError as exc:
            if not self.gone:
                self.on_error(exc)
            return
        if self.gone:
            conn.close()
            return
        self._attach(conn)

    def _attach(self, conn: Connection) -> None:
        self.upstream = conn
        self.upstream_name = conn.name
        data = self.head.data
        if self.pending:
            data += b"".join(self.pending)
            self.pending.clear()
        settings = self.proxy.settings
        header_timeout = settings.header_timeout
        route = self.route
        if route is not None and route.timeout:
            header_timeout = max(route.timeout - (time.monotonic() - self.request.started), 0.001)
        conn.begin(
            self,
            data,
            head_only=self.request.method == "HEAD",
            request_done=self.request_done or not self.head.has_body,
            header_timeout=header_timeout,
            body_idle_timeout=settings.body_idle_timeout,
        )
        if self.pending_bytes > PENDING_LIMIT:
            self.client.pause_reading(False)
        self.pending_bytes = 0
        if self.head.expect_continue and self.head.has_body and not self.request_done:
            self.client.send_continue()

    def on_head(self, status: int, reason: bytes, headers: Headers, keep_alive: bool) -> None:
        request = self.request
        if status == 101 and not request.upgrade:
            self.on_error(UpstreamError("the pod switched protocols unasked"))
            return
        head, self.chunked_out, self.keep_alive = response_head(
            status,
            reason,
            headers,
            method=request.method,
            version=request.version,
            keep_alive=request.keep_alive and not self.client.closing,
        )
        self.status = status
        self.out.append(head)

    def on_body(self, data: bytes) -> None:
        self.sent += len(data)
        if self.chunked_out:
            self.out += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.out.append(data)

    def flush(self) -> None:
        out = self.out
        if out:
            self.client.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def on_end(self) -> None:
        if self.chunked_out:
            self.out.append(TERMINATOR)
        self.flush()  # before the next exchange may write
        self.answered = True
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            if self.request_done:
                self.proxy.pool.release(upstream)
            else:
                upstream.close()  # the pod answered mid-request: this connection is spent
                self.client.pause_reading(False)
        self._log(self.status)
        if self.request_done:
            self._finish()

    def on_upgrade(self, rest: bytes) -> None:
        upstream, self.upstream = self.upstream, None
        client = self.client
        if upstream is None or upstream.transport is None or client.transport is None:
            return
        self.flush()
        if rest:
            client.write(rest)
        splice = Splice(client.transport, upstream.transport)
        if self.capped:  # an upgraded request keeps its slot while its splice lasts
            self.capped = False
            ref, address = self.route.service if self.route else None, self.address
            if ref is not None:
                splice.on_close = lambda: self.proxy.free(ref, address)
        upstream.detach(splice)
        early = client.detach(splice)
        self.answered = self.finished = True
        self._log(101)
        if early:
            splice.from_client(early)

    def on_error(self, exc: UpstreamError) -> None:
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.close()
        if self.gone or self.answered:
            return
        if (
            isinstance(exc, UpstreamClosed)
            and not self.head.has_body
            and not self.retried
            and self.status == 0
        ):
            self.retried = True
            self._dial()  # once, on a fresh connection
            return
        if self.status:
            # The status went out already: cut the connection, the client sees a short answer.
            self.flush()
            log.warning("answer from %s cut: %s", self.upstream_name, exc)
            self.answered = True
            self._log(self.status)
            self.client.abort()
            return
        name = f"{self.address[0]}:{self.address[1]}"
        assert self.route is not None
        if isinstance(exc, UpstreamTimeout):
            heading = f"The pod at {name} did not answer in time"
            self._page(504, error_page(504, heading, str(exc), self.route))
        else:
            self._page(502, error_page(502, f"The pod at {name} failed", str(exc), self.route))

    def upstream_full(self, full: bool) -> None:
        self.client.pause_reading(full)

    # -- endings ---------------------------------------------------------------------------

    def _page(self, status: int, body: bytes) -> None:
        request = self.request
        keep = request.keep_alive and not self.client.closing and not request.upgrade
        self.status = status
        self.keep_alive = keep
        self.client.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: %d\r\n"
            b"cache-control: no-store\r\n%s\r\n%s"
            % (
                status,
                _REASONS[status],
                len(body),
                b"" if keep else b"connection: close\r\n",
                b"" if request.method == "HEAD" else body,
            )
        )
        self.sent = len(body)
        self.answered = True
        self.pending.clear()
        if self.pending_bytes > PENDING_LIMIT:
            self.client.pause_reading(False)
        self._log(status)
        if self.request_done:
            self._finish()

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.client.finish(self.keep_alive)

    def _log(self, status: int) -> None:
        if self.capped:
            self.capped = False
            assert self.route is not None and self.route.service is not None
            self.proxy.free(self.route.service, self.address)
        request = self.request
        stats = self.stats
        if stats is not None:
            self.stats = None
            stats.end(status, request.started)
        log_request(
            self.client.peer,
            self.head.host.decode("latin-1"),
            request.method,
            request.target,
            request.version,
            status,
            self.sent,
            request.started,
            self.upstream_name,
        )


_REASONS = {
    404: b"Not Found",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}

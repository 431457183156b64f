"""HTTP/1.1 to the pods: pooled keep-alive connections that report to an exchange by callback.

Why not aiohttp's or httpx's client: a proxy needs only one thing of a
client, bytes in and bytes out on a kept connection, and both general clients
spend more per request on what a proxy does not use (cookie jars, redirects,
decoding, per-request objects) than on the exchange; measured in
``bench/router.py`` (the ``aiohttp`` row). A connection is an
``asyncio.Protocol`` with httptools' response parser, and it drives its
current ``Sink`` (the exchange, ``router.exchange``) by callbacks: no task or
future per request, so an answer that arrives in one read is relayed within
that read's callback.

An exchange: ``Pool.take(address)`` gives an idle connection to that
(ip, port), or ``None`` and the exchange dials one (``Pool.dial``, the only
awaited step, within ``connect_timeout``). ``begin`` writes the request head
(and whatever body is already there); ``send_body``/``end_body`` stream the
rest, chunked when its length is unknown, and ``pause_writing`` from the
pod's socket reaches the sink as ``upstream_full`` (the client's socket stops
being read). The answer comes as ``on_head``, ``on_body`` (decoded from
chunked by the parser), ``on_end``; ``flush`` after each read lets the sink
write what one read produced in one go. ``pause_reading`` stops the pod's
socket while the client reads slower than the pod writes. ``release`` puts
the connection back when its answer was read to the end and both sides said
keep-alive; anything else closes it.

Failures reach the sink as ``on_error``: ``UpstreamClosed`` when a reused
connection was closed before any byte of answer (safe to retry once on a
fresh one), ``UpstreamTimeout`` when the watchdog (``router.watchdog``)
finds no response head ``header_timeout`` seconds after the request was
sent, or nothing moving for ``body_idle_timeout`` within a body, and
``UpstreamError`` for the rest. A body delimited by the pod closing the
connection (no length, not chunked) ends there, cleanly. Idle connections
live ``idle_timeout`` seconds, at most ``max_idle`` per address.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

import httptools

from router.splice import Splice
from router.watchdog import Watchdog

Address = tuple[str, int]
Headers = list[tuple[bytes, bytes]]
IDLE, SENDING, WAITING, RECEIVING = range(4)


class UpstreamError(Exception):
    """The pod could not be dialled, broke the exchange, or answered garbage."""


class UpstreamClosed(UpstreamError):
    """A reused connection was closed before any answer: safe to retry on a new one."""


class UpstreamTimeout(UpstreamError):
    """The pod did not answer (connect, headers, or a body gone quiet) in time."""


@dataclass(frozen=True)
class PoolSettings:
    connect_timeout: float = 5.0  # a pod that does not accept in 5 s is not coming back soon
    max_idle: int = 64  # idle connections kept per pod (ingress-nginx keeps 320 per worker)
    idle_timeout: float = 60.0  # seconds an idle connection is kept (ingress-nginx: 60 s)


class Sink(Protocol):
    """Who hears about an exchange on a connection (the proxy's exchange)."""

    def on_head(self, status: int, reason: bytes, headers: Headers, keep_alive: bool) -> None: ...
    def on_body(self, data: bytes) -> None: ...
    def on_end(self) -> None: ...
    def on_upgrade(self, rest: bytes) -> None: ...  # after a 101 head: the bytes that follow
    def on_error(self, exc: UpstreamError) -> None: ...
    def flush(self) -> None: ...  # a read's events are all delivered
    def upstream_full(self, full: bool) -> None: ...


class Connection(asyncio.Protocol):
    def __init__(self, address: Address, pool: Pool) -> None:
        self.address = address
        self.name = f"{address[0]}:{address[1]}"
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: Sink | None = None
        self.closed = False
        self.reused = False
        self.dirty = False  # the parser stopped mid-message (a HEAD answer's body never comes)
        self.phase = IDLE
        self.since = time.monotonic()  # of the phase's last activity
        self.header_timeout = 0.0
        self.body_idle_timeout = 0.0
        self.status = 0
        self.reason = b""
        self.headers: Headers = []
        self.keep_alive = False
        self.complete = False
        self.head_only = False
        self.received_any = False
        self.watchdog: Watchdog | None = None
        self.splice: Splice | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.watchdog = Watchdog(asyncio.get_running_loop(), self._check)

    def data_received(self, data: bytes) -> None:
        if self.splice is not None:
            self.splice.from_pod(data)
            return
        self.received_any = True
        self.since = time.monotonic()
        sink = self.sink
        if sink is None:
            self.close()  # an idle connection has nothing to say: it is not HTTP any more
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            if self.status == 101 and self.sink is sink:
                sink.on_upgrade(data[exc.args[0] :])
                return
            self._fail(UpstreamError("the pod switched protocols unasked"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"the pod's answer is not valid HTTP ({exc})"))
        sink.flush()

    def eof_received(self) -> bool:
        if self.splice is not None:
            self.splice.pod_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.watchdog is not None:
            self.watchdog.stop()
        self.pool.forget(self)
        if self.splice is not None:
            self.splice.pod_closed()
            return
        sink, self.sink = self.sink, None
        if sink is None or self.complete:
            return
        if self.phase != RECEIVING:
            cls = UpstreamClosed if self.reused and not self.received_any else UpstreamError
            sink.on_error(cls("the pod closed the connection before answering"))
        elif self._close_delimited():
            self.complete = True
            sink.on_end()
            sink.flush()
        else:
            sink.on_error(UpstreamError("the pod closed the connection in the middle of the body"))

    def pause_writing(self) -> None:
        if self.splice is not None:
            self.splice.pod_full(True)
        elif self.sink is not None:
            self.sink.upstream_full(True)

    def resume_writing(self) -> None:
        self.since = time.monotonic()
        if self.splice is not None:
            self.splice.pod_full(False)
        elif self.sink is not None:
            self.sink.upstream_full(False)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers = []  # an interim answer (100 Continue, 103): the real one follows
            self.reason = b""
            return
        sink = self.sink
        if sink is None:  # an answer nobody asked for
            self.close()
            return
        self.keep_alive = self.parser.should_keep_alive()
        self.phase = RECEIVING
        sink.on_head(status, self.reason, self.headers, self.keep_alive)
        if self.head_only and self.sink is sink:  # a HEAD answer has no body, whatever it says
            self.dirty = True
            self._done()

    def on_body(self, body: bytes) -> None:
        if self.sink is not None and not self.head_only and self.phase == RECEIVING:
            self.sink.on_body(body)

    def on_message_complete(self) -> None:
        if self.phase != RECEIVING or self.status == 101 or self.complete:
            return
        self._done()

    # -- the exchange ----------------------------------------------------------------------

    def begin(
        self,
        sink: Sink,
        data: bytes,
        *,
        head_only: bool,
        request_done: bool,
        header_timeout: float,
        body_idle_timeout: float,
    ) -> None:
        """Start an exchange: ``data`` is the request head and any body already at hand."""
        if self.dirty:
            self.parser = httptools.HttpResponseParser(self)
            self.dirty = False
        self.sink = sink
        self.status = 0
        self.reason = b""
        self.headers = []
        self.complete = False
        self.received_any = False
        self.head_only = head_only
        self.header_timeout = header_timeout
        self.body_idle_timeout = body_idle_timeout
        self.phase = SENDING
        self.since = time.monotonic()
        if request_done:
            self._sent()
        else:
            self._expect(self.since + body_idle_timeout)
        assert self.transport is not None
        self.transport.write(data)

    def send_body(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.since = time.monotonic()
            self.transport.write(data)

    def end_body(self, data: bytes) -> None:
        """The request's last bytes (``b""``, or a chunked body's terminator): wait for the head."""
        if self.transport is not None and not self.closed:
            if data:
                self.transport.write(data)
            if self.phase == SENDING:
                self.since = time.monotonic()
                self._sent()

    def pause_reading(self, paused: bool) -> None:
        """Stop (or resume) reading the pod's answer: the client's socket is full."""
        if self.transport is None or self.closed:
            return
        self.since = time.monotonic()
        if paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def detach(self, splice: Splice) -> None:
        """Give up the HTTP role (after a 101): ``splice`` has the socket from now on."""
        self.sink = None
        self.complete = True
        self.splice = splice
        if self.watchdog is not None:
            self.watchdog.stop()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _sent(self) -> None:
        self.phase = WAITING
        self._expect(self.since + self.header_timeout)

    def _done(self) -> None:
        self.complete = True
        sink = self.sink
        if sink is not None:
            sink.on_end()

    def _fail(self, exc: UpstreamError) -> None:
        sink, self.sink = self.sink, None
        self.close()
        if sink is not None and not self.complete:
            sink.on_error(exc)

    def _expect(self, deadline: float) -> None:
        if self.watchdog is not None:
            self.watchdog.expect(deadline)

    def _close_delimited(self) -> bool:
        for name, _ in self.headers:
            if name.lower() in (b"content-length", b"transfer-encoding"):
                return False
        return True

    def _check(self, now: float) -> float | None:
        if self.closed:
            return None
        phase, since = self.phase, self.since
        if phase == IDLE:
            deadline = since + self.pool.settings.idle_timeout
            if now >= deadline:
                self.close()
                return None
            return deadline
        if phase == WAITING:
            deadline = since + self.header_timeout
            if now >= deadline:
                self._fail(
                    UpstreamTimeout(
                        f"the pod sent no response headers within {self.header_timeout:g}s"
                    )
                )
                return None
            return deadline
        deadline = since + self.body_idle_timeout
        if now >= deadline:
            what = "request" if phase == SENDING else "response"
            idle = self.body_idle_timeout
            self._fail(UpstreamTimeout(f"nothing moved for {idle:g}s within the {what} body"))
            return None
        return deadline


class Pool:
    """Idle keep-alive connections per pod address."""

    def __init__(self, settings: PoolSettings | None = None) -> None:
        self.settings = settings or PoolSettings()
        self._idle: dict[Address, list[Connection]] = {}

    def take(self, address: Address) -> Connection | None:
        """An idle connection to ``address``, most recently used first; ``None``: dial one."""
        idle = self._idle.get(address)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.since < self.settings.idle_timeout:
                conn.reused = True
                return conn
            conn.close()
        return None

    async def dial(self, address: Address) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: Connection(address, self), *address),
                self.settings.connect_timeout,
            )
        except TimeoutError:
            raise UpstreamTimeout(
                f"connecting to {address[0]}:{address[1]} took over "
                f"{self.settings.connect_timeout:g}s"
            ) from None
        except OSError as exc:
            raise UpstreamError(
                f"cannot connect to {address[0]}:{address[1]}: {exc.strerror or exc}"
            ) from exc
        return conn

    def release(self, conn: Connection) -> None:
        """Keep ``conn`` for the next request if its exchange ended cleanly, else close it."""
        conn.sink = None
        if conn.closed or not conn.complete or not conn.keep_alive:
            conn.close()
            return
        idle = self._idle.setdefault(conn.address, [])
        if len(idle) >= self.settings.max_idle:
            conn.close()
            return
        conn.phase = IDLE
        conn.since = now = time.monotonic()
        conn._expect(now + self.settings.idle_timeout)
        idle.append(conn)

    def forget(self, conn: Connection) -> None:
        idle = self._idle.get(conn.address)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in list(idle):
                conn.close()
        self._idle.clear()

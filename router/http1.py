"""HTTP/1.1 to clients: an ``asyncio.Protocol`` around httptools' request parser.

No ASGI layer: a parsed request head becomes one ``Exchange`` object (the
proxy's, ``router.exchange``) that is driven by callbacks, from the parser
and from the pod's connection, with no task, scope dict or message dict per
request. Measured in ``bench/router.py``: uvicorn's ASGI machinery was most
of the router's CPU per request.

A connection holds its exchanges in a queue, in request order. Only the
first one is started and may write; the next starts when it calls
``finish``. Pipelined requests are therefore answered in order, and while
one waits behind another the socket stops being read (the queue holds at
most what one read brought). An exchange finishes when its answer is
written and its request body read to the end, so a body the pod did not
want is read and dropped rather than left to desync the connection.

Limits, each answered with a page and a closed connection: a request head
over ``max_head_bytes`` (431), bytes that are not HTTP (400; mid-body the
connection is simply cut, as the exchange can no longer be answered
cleanly), ``CONNECT`` (405), a head not complete within
``header_read_timeout`` (408). An idle kept-alive connection closes after
``keep_alive_timeout``. Both timeouts are watched by one lazy timer per
connection (``router.watchdog``).

``Connection: Upgrade`` requests stop the parser: the bytes after the head
are kept, reading pauses, and the exchange decides. On a 101 it takes the
socket over (``detach``) and splices bytes both ways (``router.splice``);
otherwise the connection closes after the answer.

Back-pressure: ``pause_writing``/``resume_writing`` from the client's socket
are passed to the current exchange (which pauses the pod's socket);
``pause_reading(owner)`` lets an exchange stop the client's uploads while
the pod's socket is full. Graceful shutdown (``shutdown``) closes idle
connections at once and the others after their current answer.
"""

from __future__ import annotations

import asyncio
import collections
import http
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httptools

from router.accesslog import log_request
from router.pages import client_error_page
from router.watchdog import Watchdog


@dataclass(frozen=True)
class ServerSettings:
    keep_alive_timeout: float = 75.0  # seconds an idle client connection is kept (nginx: 75)
    header_read_timeout: float = 60.0  # seconds to send a request head (nginx: 60, the same)
    max_head_bytes: int = 64 * 1024  # request line and headers; nginx takes 32 KiB, cookies grow


REASONS = {s.value: s.phrase.encode() for s in http.HTTPStatus}
BACKLOG, BODY = 1, 2  # why the client's socket is not read: queued requests, a full pod socket


class Request:
    """A request head as parsed; ``headers`` are as received (names in their case)."""

    __slots__ = ("headers", "keep_alive", "method", "started", "target", "upgrade", "version")

    def __init__(
        self,
        method: str,
        target: bytes,
        version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        upgrade: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self.started = time.monotonic()


class Exchange(Protocol):
    """One request and its answer, as the connection drives it."""

    def start(self) -> None: ...  # first in the queue: may write now
    def request_body(self, data: bytes) -> None: ...  # may come before ``start``
    def request_end(self) -> None: ...
    def client_lost(self) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...


class App(Protocol):
    def exchange(self, request: Request, client: ClientConnection) -> Exchange: ...


class ClientConnection(asyncio.Protocol):
    def __init__(self, app: App, settings: ServerSettings, connections: ConnectionSet) -> None:
        self.app = app
        self.settings = settings
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.local: tuple[str, int] = ("", 0)
        self.parser = httptools.HttpRequestParser(self)
        self.exchanges: collections.deque[Exchange] = collections.deque()
        self.receiving: Exchange | None = None  # whose request body the parser is reading
        self.active = False  # the first exchange has been started
        self.advancing = False
        self.closed = False
        self.closing = False  # no new request after the current one (shutdown, EOF, refused)
        self.broken = False  # the parser is done with this connection
        self.write_paused = False
        self.paused = 0  # BACKLOG | BODY
        self.upgrading: list[bytes] | None = None  # bytes after an upgrade request's head
        self.splice: Splicing | None = None
        self.in_head = False
        self.head_since = 0.0
        self.head_bytes = 0
        self.idle_since = 0.0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.watchdog: Watchdog | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else "-"
        local = transport.get_extra_info("sockname")
        self.local = (str(local[0]), int(local[1])) if local else ("", 0)
        self.connections.add(self)
        loop = asyncio.get_running_loop()
        self.idle_since = now = loop.time()
        self.watchdog = Watchdog(loop, self._check)
        self.watchdog.expect(now + self.settings.keep_alive_timeout)

    def data_received(self, data: bytes) -> None:
        if self.splice is not None:
            self.splice.from_client(data)
            return
        if self.upgrading is not None:
            self.upgrading.append(data)
            return
        if self.broken:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.upgrading = [data[exc.args[0] :]]
            self.closing = True
            self._pause(BACKLOG, True)
        except httptools.HttpParserError as exc:
            if self.receiving is not None:  # mid-body: no clean answer is possible any more
                self.abort()
                return
            self.in_head = False
            self._refuse(400, f"the request is not valid HTTP/1.1 ({exc})")
        if self.in_head:
            self.head_bytes += len(data)
            if self.head_bytes > self.settings.max_head_bytes:
                self.in_head = False
                self._refuse(431, "the request's headers are too large")
        self._advance()

    def eof_received(self) -> bool:
        if self.splice is not None:
            self.splice.client_eof()
            return True
        self.closing = True
        return bool(self.exchanges)  # keep the socket to write the answers in flight

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.connections.discard(self)
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.splice is not None:
            self.splice.client_closed()
        exchanges, self.exchanges = self.exchanges, collections.deque()
        for exchange in exchanges:
            exchange.client_lost()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.splice is not None:
            self.splice.client_full(True)
        elif self.active:
            self.exchanges[0].pause_writing()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.splice is not None:
            self.splice.client_full(False)
        elif self.active:
            self.exchanges[0].resume_writing()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_head = True
        self.head_bytes = 0
        self.url = b""
        self.headers = []
        self.head_since = now = time.monotonic()
        if self.watchdog is not None:
            timeout = self.settings.header_read_timeout
            self.watchdog.expect(now + timeout, slack=timeout / 4)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        self.head_bytes += len(name) + len(value)

    def on_headers_complete(self) -> None:
        self.in_head = False
        parser = self.parser
        method = parser.get_method().decode("ascii", "replace")
        target = self.url
        if target[:1] != b"/" and target != b"*":
            target = _origin_form(target)
        request = Request(
            method,
            target,
            parser.get_http_version(),
            self.headers,
            parser.should_keep_alive() and not self.closing,
            parser.should_upgrade(),
        )
        exchange: Exchange
        if self.head_bytes > self.settings.max_head_bytes:
            exchange = LocalAnswer(self, request, 431, "the request's headers are too large")
            self.broken = True
        elif method == "CONNECT":
            exchange = LocalAnswer(self, request, 405, "CONNECT is not served by this router")
            self.broken = True
        else:
            exchange = self.app.exchange(request, self)
        self.exchanges.append(exchange)
        self.receiving = exchange
        self.head_bytes = 0

    def on_body(self, body: bytes) -> None:
        if self.receiving is not None:
            self.receiving.request_body(body)

    def on_message_complete(self) -> None:
        exchange, self.receiving = self.receiving, None
        if exchange is not None:
            exchange.request_end()

    # -- what exchanges call ---------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def send_continue(self) -> None:
        self.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def pause_reading(self, paused: bool) -> None:
        """Stop (or resume) reading the request body: the pod's socket is full."""
        self._pause(BODY, paused)

    def finish(self, keep_alive: bool) -> None:
        """The first exchange is answered and its request read: start the next one."""
        if self.exchanges:
            self.exchanges.popleft()
        self.active = False
        if self.closed:
            return
        if not keep_alive or (self.closing and not self.exchanges):
            self._close()
            return
        if not self.exchanges:
            self.idle_since = time.monotonic()
        self._advance()

    def detach(self, splice: Splicing) -> bytes:
        """Hand the socket to ``splice`` (after a 101); the bytes the client sent meanwhile."""
        early = b"".join(self.upgrading or ())
        self.upgrading = None
        self.splice = splice
        self.exchanges.clear()
        self.active = False
        self.paused = 0
        if self.transport is not None:
            self.transport.resume_reading()
        return early

    def abort(self) -> None:
        """Cut the connection: an answer already begun cannot be completed."""
        if self.transport is not None:
            self.transport.abort()

    def shutdown(self) -> None:
        """Answer what is in flight, then close (graceful shutdown)."""
        self.closing = True
        if not self.exchanges and not self.in_head and self.splice is None:
            self._close()

    # -- internals -------------------------------------------------------------------------

    def _advance(self) -> None:
        if self.advancing:
            return
        self.advancing = True
        try:
            while self.exchanges and not self.active and not self.closed:
                self.active = True
                self.exchanges[0].start()
        finally:
            self.advancing = False
        if not self.closed and self.splice is None:
            self._pause(BACKLOG, len(self.exchanges) > 1 or self.upgrading is not None)

    def _refuse(self, status: int, reason: str) -> None:
        self.broken = True
        self.exchanges.append(LocalAnswer(self, None, status, reason))

    def _pause(self, reason: int, on: bool) -> None:
        before = self.paused
        self.paused = before | reason if on else before & ~reason
        if self.transport is None or self.closed or bool(before) == bool(self.paused):
            return
        if self.paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _check(self, now: float) -> float | None:
        """The watchdog's question: has the idle or the header-read deadline passed?"""
        if self.closed or self.splice is not None:
            return None
        s = self.settings
        if self.in_head:
            deadline = self.head_since + s.header_read_timeout
            if time.monotonic() >= deadline:
                self.in_head = False
                self._refuse(408, "the request's headers did not arrive in time")
                self._advance()
                return None
            return deadline
        if self.exchanges or self.upgrading is not None:
            return now + s.keep_alive_timeout  # a pod's answer has timeouts of its own
        deadline = self.idle_since + s.keep_alive_timeout
        if time.monotonic() >= deadline:
            self._close()
            return None
        return deadline


def _origin_form(target: bytes) -> bytes:
    """``http://host/p?q`` (absolute form, as sent to proxies) as ``/p?q``, what pods expect."""
    try:
        url = httptools.parse_url(target)
    except httptools.HttpParserInvalidURLError:
        return target
    path = url.path or b"/"
    return path + b"?" + url.query if url.query else path


class Splicing(Protocol):
    """What a connection hands its socket to after a 101 (``router.splice``)."""

    def from_client(self, data: bytes) -> None: ...
    def client_eof(self) -> None: ...
    def client_closed(self) -> None: ...
    def client_full(self, full: bool) -> None: ...


class LocalAnswer:
    """An answer of the router's own (400, 405, 408, 431), after which the connection closes."""

    def __init__(
        self, client: ClientConnection, request: Request | None, status: int, reason: str
    ) -> None:
        self.client = client
        self.request = request
        self.status = status
        self.reason = reason

    def start(self) -> None:
        body = client_error_page(self.status, self.reason)
        self.client.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/html; charset=utf-8\r\n"
            b"content-length: %d\r\ncache-control: no-store\r\nconnection: close\r\n\r\n%s"
            % (self.status, REASONS.get(self.status, b""), len(body), body)
        )
        r = self.request
        log_request(
            self.client.peer,
            "-",
            r.method if r else "-",
            r.target if r else b"-",
            r.version if r else "1.1",
            self.status,
            len(body),
            r.started if r else time.monotonic(),
            "-",
        )
        self.client.finish(keep_alive=False)

    def request_body(self, data: bytes) -> None:
        pass

    def request_end(self) -> None:
        pass

    def client_lost(self) -> None:
        pass

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass


class ConnectionSet:
    """The open client connections, and an event for when there are none."""

    def __init__(self) -> None:
        self.members: set[ClientConnection] = set()
        self.empty = asyncio.Event()
        self.empty.set()

    def add(self, conn: ClientConnection) -> None:
        self.members.add(conn)
        self.empty.clear()

    def discard(self, conn: ClientConnection) -> None:
        self.members.discard(conn)
        if not self.members:
            self.empty.set()


def serve_connections(
    app: App, settings: ServerSettings, connections: ConnectionSet
) -> Callable[[], ClientConnection]:
    """The protocol factory for ``loop.create_server``."""
    return lambda: ClientConnection(app, settings, connections)

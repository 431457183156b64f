"""HTTP/1.1 to the pods: a pool of keep-alive connections and a streaming exchange.

Why not aiohttp's or httpx's client: a proxy needs only one thing of a
client, bytes in and bytes out on a kept connection, and both general clients
spend more per request on what a proxy does not use (cookie jars, redirects,
decoding, per-request objects) than on the exchange; measured in
``bench/router.py`` (the ``aiohttp`` row). Here a connection is an
``asyncio.Protocol`` with httptools' response parser (the C parser uvicorn
uses), and the request head is written as one ``bytes``.

An exchange: ``Pool.acquire(address)`` gives an idle connection to that
(ip, port) or dials a new one (``connect_timeout``); ``send_head`` writes the
request line and headers; the body, when there is one, follows through
``send_body`` (chunked when its length is unknown) with back-pressure from
the socket; ``response()`` waits for the status and headers (until
``header_timeout``); ``body()`` yields the body as it arrives (decoded from
chunked by the parser), pausing the socket when the client reads slower
than the pod writes, so neither a large upload nor a large download is ever
held whole. ``release`` puts the connection back when the response was read
to its end and both sides said keep-alive; anything else closes it.

A pooled connection the pod closed meanwhile fails on first use without a
byte of answer: ``UpstreamClosed`` tells the caller it may retry once on a
fresh connection (done only for requests without a body). Idle connections
live ``idle_timeout`` seconds, at most ``max_idle`` per address.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httptools

Address = tuple[str, int]
HIGH_WATER = 256 * 1024  # bytes of response body buffered before the pod's socket is paused


class UpstreamError(Exception):
    """The pod could not be dialled, broke the exchange, or answered garbage."""


class UpstreamClosed(UpstreamError):
    """A reused connection was closed before any answer: safe to retry on a new one."""


class UpstreamTimeout(UpstreamError):
    """The pod did not answer (connect or headers) in time."""


@dataclass(frozen=True)
class PoolSettings:
    connect_timeout: float = 5.0  # a pod that does not accept in 5 s is not coming back soon
    max_idle: int = 64  # idle connections kept per pod (ingress-nginx keeps 320 per worker)
    idle_timeout: float = 60.0  # seconds an idle connection is kept (ingress-nginx: 60 s)


class Connection(asyncio.Protocol):
    def __init__(self, address: Address) -> None:
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.head_only = False
        self.received_any = False
        self._wakeup: asyncio.Future[None] | None = None
        self._paused = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("the pod switched protocols, which the router does not relay"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"the pod's answer is not valid HTTP ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._can_write.set()
        if not self.head_done.done():
            cls = UpstreamError if self.received_any or not self.reused else UpstreamClosed
            self.head_done.set_exception(cls("the pod closed the connection before answering"))
        elif not self.complete:
            try:
                self.parser.feed_data(b"")  # a body delimited by the close ends here
            except httptools.HttpParserError:
                pass
        self._wake()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200:
            return  # an interim answer (100 Continue): the real one follows
        self.keep_alive = self.parser.should_keep_alive()
        if not self.head_done.done():
            self.head_done.set_result(None)
        if self.head_only:  # a HEAD answer has no body, whatever its length says
            self.complete = True

    def on_body(self, body: bytes) -> None:
        if self.status < 200 or self.head_only:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            self.headers = []
            return
        self.complete = True
        self._wake()

    # -- the exchange ----------------------------------------------------------------------

    def _fail(self, exc: UpstreamError) -> None:
        if not self.head_done.done():
            self.head_done.set_exception(exc)
        self.close()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def send_head(self, head: bytes, *, head_only: bool) -> None:
        self.head_only = head_only
        assert self.transport is not None
        self.transport.write(head)

    async def send_body(self, data: bytes, *, chunked: bool) -> None:
        if self.closed or self.transport is None:
            raise UpstreamError("the pod closed the connection while the request body was sent")
        if chunked:
            if not data:
                return
            self.transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self.transport.write(data)
        if not self._can_write.is_set():
            await self._can_write.wait()

    def end_body(self, *, chunked: bool) -> None:
        if chunked and self.transport is not None and not self.closed:
            self.transport.write(b"0\r\n\r\n")

    async def response(self, timeout: float | None) -> tuple[int, list[tuple[bytes, bytes]]]:
        # A timer that fails the future, not asyncio.wait_for: no task and no shield per
        # request (a measurable share of the router's CPU per request).
        timer = None
        if not self.head_done.done() and timeout is not None:
            timer = asyncio.get_running_loop().call_later(timeout, self._head_timeout, timeout)
        try:
            await self.head_done
        finally:
            if timer is not None:
                timer.cancel()
        return self.status, self.headers

    def _head_timeout(self, timeout: float) -> None:
        self._fail(UpstreamTimeout(f"the pod sent no response headers within {timeout:g}s"))

    async def body(self, idle_timeout: float | None) -> AsyncIterator[bytes]:
        """The response body, chunk by chunk as the pod sends it."""
        while True:
            while self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self._paused and self.buffered < HIGH_WATER // 2 and self.transport:
                    self._paused = False
                    self.transport.resume_reading()
                yield chunk
            if self.complete:
                return
            if self.closed:
                raise UpstreamError("the pod closed the connection in the middle of the body")
            loop = asyncio.get_running_loop()
            wakeup = self._wakeup = loop.create_future()
            timer = loop.call_later(idle_timeout, _expire, wakeup) if idle_timeout else None
            try:
                await wakeup
            except TimeoutError:
                self.close()
                raise UpstreamTimeout(
                    f"the pod sent nothing for {idle_timeout:g}s in the middle of the body"
                ) from None
            finally:
                self._wakeup = None
                if timer is not None:
                    timer.cancel()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(wakeup: asyncio.Future[None]) -> None:
    if not wakeup.done():
        wakeup.set_exception(TimeoutError())


class Pool:
    """Idle keep-alive connections per pod address."""

    def __init__(self, settings: PoolSettings | None = None) -> None:
        self.settings = settings or PoolSettings()
        self._idle: dict[Address, collections.deque[Connection]] = {}

    async def acquire(self, address: Address) -> Connection:
        idle = self._idle.get(address)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.settings.idle_timeout:
                conn.reused = True
                conn._reset()
                return conn
            conn.close()
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: Connection(address), *address),
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
        if conn.closed or not conn.complete or not conn.keep_alive or conn.chunks:
            conn.close()
            return
        idle = self._idle.setdefault(conn.address, collections.deque())
        if len(idle) >= self.settings.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

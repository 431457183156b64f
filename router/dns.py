"""The cluster DNS server: UDP and TCP on one port, answers from the record table.

``DNSServer(records, settings)`` serves ``router.dnsresolve.resolve`` over
``router.dnsrecords.ClusterRecords`` (kept by informers, see
``router.dnsfeed``: no API call per query). ``start()`` binds UDP and TCP on
the same host and port (port 0: a free one, the same number for both) and
returns the bound address.

The fast path, which decides throughput: a reply depends only on the query's
bytes after its 2-byte ID, the transport and the table, so the packed reply
is cached under those bytes (one cache per transport). A hit costs a dict
lookup and the client's ID put in front: no parsing, no packing. The cache
is dropped whenever the table's ``generation`` moves (any record changed)
and when it reaches ``cache_entries`` (so odd queries cannot grow it without
bound). Everything else goes through dnslib: parse, resolve, pack.

Over UDP a reply longer than the client can take (512 bytes, or its EDNS
buffer size up to ours) is cut to the header and question with the TC flag
set, and the client retries over TCP, where the reply goes whole. Queries
outside our names are forwarded when upstreams are set (``router.dnsforward``),
otherwise REFUSED; a failed forward is SERVFAIL. Garbage too short for a
header, and messages that are themselves replies, are dropped; a message
dnslib cannot parse gets FORMERR.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import errno
import logging
import socket
import struct
from collections.abc import Coroutine
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Final

from dnslib import RCODE, DNSHeader, DNSRecord

from router.dnsforward import Forwarder, Upstream
from router.dnsmetrics import DNS
from router.dnsrecords import ClusterRecords
from router.dnsresolve import OPT, ResolverSettings, refuse, resolve

log = logging.getLogger(__name__)


class Forward(enum.Enum):
    """What ``DNSServer.reply`` returns for a query that is not ours: hand it to an upstream."""

    FORWARD = 1


FORWARD: Final = Forward.FORWARD


@dataclass(frozen=True)
class DNSSettings:
    host: str = "127.0.0.1"  # where people and tools on the host reach it
    port: int = 5353  # 0 picks a free port (the same number for UDP and TCP)
    resolver: ResolverSettings = field(default_factory=ResolverSettings)
    upstreams: tuple[Upstream, ...] = ()  # empty: names outside ours are REFUSED
    forward_timeout: float = 2.0  # seconds per upstream before the next (or SERVFAIL)
    max_forwards: int = 256  # forwarded queries in flight; more are dropped (clients retry)
    cache_entries: int = 10_000  # packed replies kept per transport before the cache restarts
    tcp_idle_timeout: float = 10.0  # a TCP client silent this long is disconnected
    udp_receive_buffer: int = 1 << 20  # bytes the kernel may queue under a burst


def _header_only(data: bytes, rcode: int) -> bytes:
    """A reply to a message we could not parse: its ID and opcode, no sections."""
    flags = 0x8000 | (data[2] & 0x79) << 8 | rcode  # QR, the opcode and RD copied
    return data[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)


class DNSServer:
    def __init__(self, records: ClusterRecords, settings: DNSSettings | None = None) -> None:
        self.records = records
        self.settings = settings or DNSSettings()
        self.resolver = dataclasses.replace(
            self.settings.resolver, recursion_available=bool(self.settings.upstreams)
        )
        self.forwarder = (
            Forwarder(self.settings.upstreams, self.settings.forward_timeout)
            if self.settings.upstreams
            else None
        )
        self.address: tuple[str, int] = ("", 0)
        self.label = ""  # dns://HOST:PORT once bound: the server label of its metrics
        self._udp_cache: dict[bytes, bytes] = {}
        self._tcp_cache: dict[bytes, bytes] = {}
        self._generation = -1
        self._udp: _UDPEndpoint | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """``udp://host:port`` to reach it (loopback when bound to every address)."""
        host, port = self.address
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        return f"udp://[{host}]:{port}" if ":" in host else f"udp://{host}:{port}"

    # -- answering -----------------------------------------------------------------

    def reply(self, data: bytes, *, tcp: bool) -> bytes | Forward | None:
        """The reply's bytes, ``FORWARD``, or None to drop the message."""
        if len(data) < 12 or data[2] & 0x80:
            return None
        if self.records.generation != self._generation:
            self._udp_cache.clear()
            self._tcp_cache.clear()
            self._generation = self.records.generation
        cache = self._tcp_cache if tcp else self._udp_cache
        cached = cache.get(data[2:])
        if cached is not None:
            return data[:2] + cached
        try:
            query = DNSRecord.parse(data)
        except Exception:  # dnslib raises more than DNSError on some malformed input
            return _header_only(data, RCODE.FORMERR)
        try:
            reply = resolve(query, self.records, self.resolver)
        except Exception:
            log.exception("resolving %s failed", query.q.qname)
            return _header_only(data, RCODE.SERVFAIL)
        if reply is None:
            if self.forwarder is not None:
                return FORWARD
            reply = refuse(query, self.resolver)
        try:
            wire = bytes(reply.pack())
        except Exception as exc:  # a name dnslib cannot encode, say
            log.warning("cannot pack the reply to %s: %s", query.q.qname, exc)
            return _header_only(data, RCODE.SERVFAIL)
        if not tcp:
            wire = self._fit(query, reply, wire)
        if len(cache) >= self.settings.cache_entries:
            cache.clear()
        cache[data[2:]] = wire[2:]
        return wire

    def _fit(self, query: DNSRecord, reply: DNSRecord, wire: bytes) -> bytes:
        """``wire``, or its truncated form (TC) when longer than the client takes over UDP."""
        opt = next((rr for rr in query.ar if rr.rtype == OPT), None)
        limit = 512 if opt is None else max(512, min(opt.rclass, self.resolver.udp_payload))
        if len(wire) <= limit:
            return wire
        header = DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap)
        header.tc = 1
        cut = DNSRecord(header, q=reply.q)
        cut.ar = [rr for rr in reply.ar if rr.rtype == OPT]
        return bytes(cut.pack())

    async def _forward(self, data: bytes, *, tcp: bool) -> bytes:
        assert self.forwarder is not None
        reply = await self.forwarder.forward(data, tcp=tcp)
        return reply if reply is not None else _header_only(data, RCODE.SERVFAIL)

    # -- transports ----------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        """Bind UDP and TCP and serve; returns (host, port) as bound."""
        udp_sock, tcp_sock = self._bind()
        host, port = udp_sock.getsockname()[:2]
        self.address = (host, port)
        self.label = f"dns://{f'[{host}]' if ':' in host else host}:{port}"  # metrics' server
        self._udp = _UDPEndpoint(self, udp_sock)
        self._tcp = await asyncio.start_server(self._serve_tcp, sock=tcp_sock)
        log.info("cluster DNS serving on %s (UDP and TCP)", self.url)
        return self.address

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        infos = socket.getaddrinfo(self.settings.host, None, type=socket.SOCK_DGRAM)
        family = infos[0][0]
        host = infos[0][4][0]
        for _ in range(20):  # port 0: the free UDP port may be taken for TCP; try another
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                with contextlib.suppress(OSError):
                    udp.setsockopt(
                        socket.SOL_SOCKET, socket.SO_RCVBUF, self.settings.udp_receive_buffer
                    )
                udp.bind((host, self.settings.port))
                port = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((host, port))
                tcp.listen(128)
                udp.setblocking(False)
                tcp.setblocking(False)
                return udp, tcp
            except OSError as exc:
                udp.close()
                tcp.close()
                if exc.errno != errno.EADDRINUSE or self.settings.port != 0:
                    raise OSError(
                        exc.errno,
                        f"cluster DNS cannot listen on {self.settings.host}:"
                        f"{self.settings.port}: {exc.strerror}",
                    ) from exc
        raise OSError(errno.EADDRINUSE, "cluster DNS found no port free for both UDP and TCP")

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a forward in the background, unless too many are in flight already."""
        if len(self._tasks) >= self.settings.max_forwards:
            coro.close()
            return
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        idle = self.settings.tcp_idle_timeout
        family = "2" if ":" in self.address[0] else "1"
        try:
            while True:
                (size,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), idle))
                data = await asyncio.wait_for(reader.readexactly(size), idle)
                started = perf_counter()
                out = self.reply(data, tcp=True)
                if out is None:
                    break
                if out is FORWARD:
                    out = await self._forward(data, tcp=True)
                DNS.record(self.label, "tcp", family, data, out, perf_counter() - started)
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class _UDPEndpoint:
    """The UDP side: drains the socket in batches on each wake-up and answers in place.

    asyncio's datagram transport reads one datagram per event-loop pass; under a
    burst that pass (selector poll, callback scheduling) costs more than the
    answer itself, so this reads up to ``BATCH`` datagrams per wake-up and
    sends each reply straight from the socket. A full send buffer drops that
    reply (UDP clients retry).
    """

    BATCH = 64

    def __init__(self, server: DNSServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.family = "2" if sock.family == socket.AF_INET6 else "1"  # CoreDNS's family label
        self.loop = asyncio.get_running_loop()
        self.closed = False
        self.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        recv, send, reply = self.sock.recvfrom, self.sock.sendto, self.server.reply
        record, server, family = DNS.record, self.server.label, self.family
        for _ in range(self.BATCH):
            try:
                started = perf_counter()
                data, addr = recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP errors surface here: a client went away
                log.debug("UDP receive: %r", exc)
                continue
            out = reply(data, tcp=False)
            if out is None:
                continue
            if out is FORWARD:
                self.server.spawn(self._forward(data, addr, started))
                continue
            record(server, "udp", family, data, out, perf_counter() - started)
            try:
                send(out, addr)
            except OSError as exc:
                log.debug("UDP send to %s: %r", addr, exc)

    async def _forward(self, data: bytes, addr: Any, started: float) -> None:
        out = await self.server._forward(data, tcp=False)
        DNS.record(self.server.label, "udp", self.family, data, out, perf_counter() - started)
        if not self.closed:
            with contextlib.suppress(OSError):
                self.sock.sendto(out, addr)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()

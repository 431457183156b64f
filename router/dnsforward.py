"""Forwarding names outside the cluster to a configured upstream resolver.

Only when one is configured: without an upstream the server refuses such
names rather than fall back on the machine's own resolver, so a pod never
learns anything the operator did not choose to expose. The query is relayed
byte for byte (its ID included) and so is the reply, over the transport the
client used: UDP from a fresh socket per query (the kernel picks a random
source port, which keeps spoofed replies out), TCP on a fresh connection.
Upstreams are tried in order, each within ``timeout``; a reply whose ID does
not match is ignored. When none answers the caller gets None and replies
SERVFAIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_upstream(text: str) -> Upstream:
    """``HOST``, ``HOST:PORT`` or ``[V6]:PORT`` (ValueError naming what is wrong)."""
    text = text.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
        elif rest:
            raise ValueError(f"upstream {text!r}: expected [ADDRESS]:PORT")
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host:
        raise ValueError(f"upstream {text!r}: no host")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"upstream {text!r}: port must be a number from 1 to 65535")
    return Upstream(host, int(port))


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes, done: asyncio.Future[bytes]) -> None:
        self.query_id = query_id
        self.done = done

    def datagram_received(self, data: bytes, addr: object) -> None:
        if (
            data[:2] == self.query_id
            and len(data) >= 12
            and data[2] & 0x80
            and not self.done.done()
        ):
            self.done.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable: nobody listens there
        if not self.done.done():
            self.done.set_exception(exc)


class Forwarder:
    def __init__(self, upstreams: Sequence[Upstream], timeout: float = 2.0) -> None:
        self.upstreams = tuple(upstreams)
        self.timeout = timeout

    async def forward(self, query: bytes, *, tcp: bool) -> bytes | None:
        """The first upstream's reply to ``query``, or None when none answered in time."""
        for upstream in self.upstreams:
            try:
                return await asyncio.wait_for(
                    self._tcp(upstream, query) if tcp else self._udp(upstream, query),
                    self.timeout,
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.warning("upstream %s did not answer: %r", upstream, exc)
        return None

    async def _udp(self, upstream: Upstream, query: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _OneReply(query[:2], done), remote_addr=(upstream.host, upstream.port)
        )
        try:
            transport.sendto(query)
            return await done
        finally:
            transport.close()

    async def _tcp(self, upstream: Upstream, query: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await reader.readexactly(size)
                if reply[:2] == query[:2]:
                    return reply
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

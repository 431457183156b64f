"""After a 101: bytes both ways between the client and the pod until either side is done.

A WebSocket (or any ``Connection: Upgrade`` protocol the pod accepts) is no
longer HTTP to the router: both connections hand their sockets to one
``Splice``, which writes what one side reads to the other. Back-pressure is
the sockets': when one side's send buffer fills, the other side's socket
stops being read until it drains, so a fast sender never fills the
router's memory. A half-close (EOF) is passed on as a half-close when the
transport can; once both directions ended, or either socket closed or
failed, both are closed.

There is no idle timeout on a splice: WebSocket apps keep their own pings,
and a proxy timing out quiet sockets is the most common WebSocket complaint
about nginx (``proxy_read_timeout`` 60 s). Graceful shutdown closes splices
at the end of its grace period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Splice:
    def __init__(self, client: asyncio.Transport, pod: asyncio.Transport) -> None:
        self.client = client
        self.pod = pod
        self.ended: set[str] = set()
        self.closed = False
        self.on_close: Callable[[], None] | None = None  # e.g. frees the request's slot

    # what the client's connection reports

    def from_client(self, data: bytes) -> None:
        if not self.closed:
            self.pod.write(data)

    def client_eof(self) -> None:
        self._eof("client", self.pod)

    def client_closed(self) -> None:
        self.close()

    def client_full(self, full: bool) -> None:
        _pause(self.pod, full)

    # what the pod's connection reports

    def from_pod(self, data: bytes) -> None:
        if not self.closed:
            self.client.write(data)

    def pod_eof(self) -> None:
        self._eof("pod", self.client)

    def pod_closed(self) -> None:
        self.close()

    def pod_full(self, full: bool) -> None:
        _pause(self.client, full)

    def _eof(self, side: str, other: asyncio.Transport) -> None:
        self.ended.add(side)
        if len(self.ended) == 2 or not other.can_write_eof():
            self.close()
        else:
            other.write_eof()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.client.close()
        self.pod.close()
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()


def _pause(transport: asyncio.Transport, paused: bool) -> None:
    if transport.is_closing():
        return
    if paused:
        transport.pause_reading()
    else:
        transport.resume_reading()

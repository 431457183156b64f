"""Connection limits: slow or idle clients cannot lock the others out.

uvicorn closes a connection idle between requests (``timeout_keep_alive``)
but waits forever for the headers of a request, has no cap on their size
and none on the number of connections. ``limited_protocol`` subclasses the
server's HTTP protocol (``streams/upgrade.py``'s, itself uvicorn's
httptools one) to add what Go's ``http.Server`` gives Kubernetes:

- Header-read timeout: a request's headers must be complete within
  ``header_timeout`` of the connection being made (after TLS) or of the
  request's first byte on a kept-alive connection; otherwise the connection
  is dropped. Kubernetes allows 32 s; 10 s is ample for any client (a whole
  request line and headers take milliseconds on a LAN) and makes a slowloris
  reconnect three times as often to hold its sockets.
- Header size: more than ``max_header_bytes`` received before the headers
  are complete is answered ``431 Request Header Fields Too Large`` and the
  connection closed. Kubernetes allows Go's 1 MiB; 64 KiB holds any token,
  impersonation or audit header real clients send, and bounds what 4,000
  connections can make the server buffer (256 MiB).
- Connection cap: beyond ``max_connections`` (capped below the open-file
  limit, which start-up raises to its hard limit: ``raise_open_file_limit``)
  the oldest connection still waiting for its headers is dropped to make
  room; when none is waiting, the new connection is. Clients with requests
  under way are never the ones dropped.

- TLS handshake timeout: the same ``header_timeout`` (asyncio's default is
  60 s, and uvicorn cannot change it). ``ConnectionConfig`` is uvicorn's
  ``Config`` with TLS taken off the listener after uvicorn builds its
  context; ``with_tls`` wraps each accepted connection's protocol in
  asyncio's ``SSLProtocol`` with the shorter timeout, exactly what the
  listener would have done, so a socket that never starts TLS is dropped
  as soon as one that never finishes its headers.

The idle keep-alive timeout is uvicorn's own (``idle_timeout`` is handed to
it). A connection upgraded to SPDY or WebSocket has completed its headers
and leaves these timers behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import ssl
from asyncio.sslproto import SSLProtocol
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

_RESERVED_FDS = 256  # the store, node connections, log files: fds that are not clients
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 31\r\n"
    b"Connection: close\r\n\r\nRequest header fields too large"
)


@dataclass(frozen=True)
class ConnectionSettings:
    header_timeout: float = 10.0  # see the module docstring (Kubernetes: 32 s)
    max_header_bytes: int = 64 * 1024  # see the module docstring (Kubernetes: 1 MiB)
    idle_timeout: float = 30.0  # between requests; Kubernetes 90 s, uvicorn 5 s (too short
    # for kubectl's connection reuse between commands of a script)
    max_connections: int = 4000  # also kept under the open-file limit


def raise_open_file_limit() -> int:
    """Raise this process's open-file soft limit to its hard limit; the soft limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return soft


def connection_cap(settings: ConnectionSettings, open_files: int) -> int:
    """How many client connections may be open: the setting, within the open-file limit."""
    return max(1, min(settings.max_connections, open_files - _RESERVED_FDS))


def limited_protocol(
    base: type[HttpToolsProtocol], settings: ConnectionSettings, cap: int
) -> type[HttpToolsProtocol]:
    """``base`` with the header timeout, header size cap and connection cap."""
    waiting: dict[Any, None] = {}  # connections waiting for headers, oldest first

    class LimitedProtocol(base):  # type: ignore[valid-type,misc]
        _header_timer: asyncio.TimerHandle | None = None
        _header_bytes = 0  # request line and headers of the request being read
        _raw_bytes = 0  # bytes received while the headers are incomplete
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > cap and not self._make_room():
                transport.abort()
                return
            self._await_headers()

        def _make_room(self) -> bool:
            for oldest in waiting:
                if oldest is not self:
                    oldest._drop()
                    return True
            return False

        def _await_headers(self) -> None:
            self._header_bytes = self._raw_bytes = 0
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(settings.header_timeout, self._drop)
            waiting[self] = None

        def _headers_done(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            waiting.pop(self, None)

        def _drop(self) -> None:
            self._headers_done()
            self.transport.abort()  # a TLS close would wait for the peer's close_notify

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)
            if self._header_timer is not None and not self._refused:
                # headers still incomplete: every byte so far was header (httptools buffers
                # a header until its end, so one endless header is cut here)
                self._raw_bytes += len(data)
                if self._raw_bytes > settings.max_header_bytes:
                    self._refuse()

        def _refuse(self) -> None:
            self._headers_done()
            self._refused = True  # the parser may go on with this chunk: ignore the rest
            if not self.transport.is_closing():
                self.transport.write(_TOO_LARGE)
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:  # the next request on a kept-alive connection
                self._await_headers()

        def on_url(self, url: bytes) -> None:
            self._header_bytes += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
            if self._header_bytes <= settings.max_header_bytes:
                super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._headers_done()
            if self._header_bytes > settings.max_header_bytes:
                self._refuse()
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._refused:
                super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_done()
            super().connection_lost(exc)

    return LimitedProtocol


class ConnectionConfig(uvicorn.Config):
    """uvicorn's Config whose TLS context goes to ``with_tls`` instead of the listener."""

    connection_tls: ssl.SSLContext | None = None

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            self.connection_tls, self.ssl = self.ssl, None


def with_tls(protocol: type[asyncio.Protocol], handshake_timeout: float) -> Any:
    """A protocol factory for uvicorn: ``protocol``, inside TLS when the config has a context."""

    def create(
        *,
        config: uvicorn.Config,
        server_state: Any,
        app_state: Any,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> asyncio.BaseProtocol:
        app = protocol(  # type: ignore[call-arg]
            config=config, server_state=server_state, app_state=app_state, _loop=_loop
        )
        context = getattr(config, "connection_tls", None)
        if context is None:
            return app
        return SSLProtocol(
            _loop or asyncio.get_running_loop(),
            app,
            context,
            None,  # type: ignore[arg-type]  # no one waits for the handshake: uvicorn's protocol
            server_side=True,  # learns of the connection in connection_made, after it
            ssl_handshake_timeout=handshake_timeout,  # type: ignore[arg-type]  # a float is fine
        )

    return create

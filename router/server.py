"""Serving the proxy on a bound socket: the listener, its connections, graceful shutdown.

``HTTPServer.start(sock)`` accepts on a socket bound by the caller (so port
0 reports its real port, and a socket can be shared by worker processes);
each accepted connection is a ``router.http1.ClientConnection`` driving the
app's exchanges. ``shutdown(grace)`` stops accepting, closes idle
connections at once, lets the busy ones finish their current answer (they
say ``Connection: close``), and after ``grace`` seconds cuts whatever is
left, WebSocket splices included.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from router.http1 import App, ConnectionSet, ServerSettings, serve_connections


class HTTPServer:
    def __init__(self, app: App, settings: ServerSettings | None = None) -> None:
        self.app = app
        self.settings = settings or ServerSettings()
        self.connections = ConnectionSet()
        self._server: asyncio.Server | None = None

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        factory = serve_connections(self.app, self.settings, self.connections)
        self._server = await loop.create_server(factory, sock=sock, backlog=1024)

    async def shutdown(self, grace: float) -> None:
        """Stop accepting; answer what is in flight within ``grace`` seconds; cut the rest."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.members):
            conn.shutdown()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connections.empty.wait(), grace)
        for conn in list(self.connections.members):
            conn.abort()
        if self._server is not None:
            await self._server.wait_closed()

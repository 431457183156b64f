"""The channel protocol's numbers and the error channel's two dialects.

Channels (apimachinery ``pkg/util/remotecommand/constants.go``): 0 stdin,
1 stdout, 2 stderr, 3 error, 4 resize; under v5 a message ``[255, N]``
says that channel N has no more data. On the error channel v4 and v5
carry one ``Status`` JSON (exit codes ride in its causes); v1-v3 carry
plain text, empty on success.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
# What we accept over SPDY for exec/attach, newest first; v1 is the unnamed "channel.k8s.io".
SPDY_EXEC_PROTOCOLS = (V5, V4, "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
WEBSOCKET_EXEC_PROTOCOLS = (V5, V4)
PORTFORWARD_PROTOCOL = "portforward.k8s.io"
PORTFORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"  # kubectl 1.31+: SPDY inside a WebSocket

STREAM_NAMES = {
    "stdin": STDIN,
    "stdout": STDOUT,
    "stderr": STDERR,
    "error": ERROR,
    "resize": RESIZE,
}


class MessageSocket(Protocol):
    """A WebSocket as the relays use it: binary messages, None once closed."""

    async def receive(self) -> bytes | None: ...

    async def send(self, message: bytes) -> None: ...

    async def close(self) -> None: ...


def status_as_text(raw: bytes) -> bytes:
    """A v4/v5 error-channel Status as v1-v3 say it: the failure's message, or nothing."""
    try:
        status = json.loads(raw)
    except ValueError:
        return raw  # already text
    if not isinstance(status, dict) or status.get("status") != "Failure":
        return b""
    return str(status.get("message") or "error executing remote command").encode()


def negotiate(offered: list[str], supported: tuple[str, ...]) -> str | None:
    """The first protocol the client offered that we speak (headers may hold comma lists)."""
    names = [p.strip() for value in offered for p in value.split(",") if p.strip()]
    return next((p for p in names if p in supported), None)


async def until_first(*coroutines: Coroutine[Any, Any, object]) -> None:
    """Run them together; when one ends, cancel the rest. A side's failure only ends the relay."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.info("stream relay side ended: %s", task.exception())

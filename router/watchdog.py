"""One lazy timer per connection, for timeouts that move on every request.

A connection has one deadline at a time (idle keep-alive, headers to read,
a pod's answer to wait for, a body gone quiet), and it moves with every
request. Re-arming an event-loop timer per request (``call_later`` plus
``cancel``) costs a few microseconds and leaves cancelled handles in the
loop's heap; here the timer is armed once and only moved when a deadline
*earlier* than the armed one appears. When it fires, the owner's ``check``
says what the deadline is now: passed, it has acted; later, the timer
re-arms for it; ``None``, nothing to watch until the next ``expect``.
Most requests therefore touch no timer at all: they compare two floats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Watchdog:
    __slots__ = ("_check", "_handle", "_loop", "_when")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, check: Callable[[float], float | None]
    ) -> None:
        self._loop = loop
        self._check = check  # given the time now: act if a deadline passed, else the next one
        self._handle: asyncio.TimerHandle | None = None
        self._when = 0.0

    def expect(self, deadline: float, slack: float = 0.0) -> None:
        """Make sure ``check`` runs no later than ``deadline`` (+ ``slack``), in loop time."""
        if self._handle is not None and self._when <= deadline + slack:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._when = deadline
        self._handle = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        deadline = self._check(self._loop.time())
        if deadline is not None:
            self.expect(deadline)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

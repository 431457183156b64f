"""A rate-limited work queue of keys, with client-go's semantics, on asyncio.

- A key is queued at most once: adding a key already waiting does nothing.
- A key being processed is never handed to a second worker; if it is added
  meanwhile it is marked dirty and queued again when the worker calls
  ``done`` (so the worker's next pass sees the newest state).
- ``add_rate_limited`` re-queues a failed key after a per-key exponential
  backoff (``base * 2**failures``, capped); ``forget`` resets it after a
  success.
- ``add_after`` queues a key after a delay (requeue-after for timers).

Keys are usually ``namespace/name`` strings; any hashable works.

A queue given a ``name`` (its controller's) reports client-go's
``workqueue_*{name}`` metrics (``orchestrator.client.metrics``): adds,
retries, time queued, time processed, depth and work in progress.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

from orchestrator.client import metrics


@dataclass(frozen=True)
class BackoffSettings:
    base: float = 0.005  # client-go's default per-item base delay
    cap: float = 300.0  # ... and its cap


class ShutDown(Exception):
    """The queue was shut down; workers should return."""


class WorkQueue:
    def __init__(self, backoff: BackoffSettings | None = None, *, name: str = "") -> None:
        self.name = name
        self._metrics = metrics.QueueMetrics(name) if name else None
        self._added: dict[Hashable, float] = {}  # key -> when it was queued (named queues)
        self._started: dict[Hashable, float] = {}  # key -> when a worker took it (named queues)
        self._backoff = backoff or BackoffSettings()
        self._queue: deque[Hashable] = deque()
        self._waiting: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutdown = False
        if name:
            metrics.QUEUES.queues.add(self)

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        if self._shutdown:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._waiting:
            return
        self._waiting.add(key)
        self._queue.append(key)
        if self._metrics is not None:
            self._metrics.adds.inc()
            self._added[key] = time.monotonic()
        self._wake()

    def _wake(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None and existing.when() <= loop.time() + delay:
            return  # an earlier wake-up is already set
        if existing is not None:
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_later(delay, fire)

    def add_rate_limited(self, key: Hashable) -> float:
        """Re-queue ``key`` after its backoff; returns the delay chosen."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if self._metrics is not None:
            self._metrics.retries.inc()
        delay = min(self._backoff.cap, self._backoff.base * 2**failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> Hashable:
        """The next key to process; the caller must call ``done(key)`` afterwards."""
        while not self._queue:
            if self._shutdown:
                raise ShutDown()
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled():
                    self._wake()  # pass the wake-up on to another worker
                raise
        key = self._queue.popleft()
        self._waiting.discard(key)
        self._processing.add(key)
        if self._metrics is not None:
            now = time.monotonic()
            self._metrics.queue_duration.observe(now - self._added.pop(key, now))
            self._started[key] = now
        return key

    def processing_since(self) -> list[float]:
        """When each key being processed now was taken (named queues)."""
        return list(self._started.values())

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        started = self._started.pop(key, None)
        if started is not None and self._metrics is not None:
            self._metrics.work_duration.observe(time.monotonic() - started)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def shutdown(self) -> None:
        self._shutdown = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

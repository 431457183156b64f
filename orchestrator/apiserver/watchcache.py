"""Watch fan-out: one store watch per API server, shared by every HTTP watch.

The hub follows ``/registry/`` from the revision it started at, decodes each
change once for all its subscribers (``Change``), and hands them out through
bounded queues. The ring of the last ``window`` changes keeps them as the
store's bytes, not as decoded objects: millions of long-lived dicts and lists
made Python's garbage collector a fifth of the API server's CPU. A watcher
that replays from the ring decodes what it replays. Ordering and completeness:

- A subscriber asks for changes after revision R. If the ring still holds
  everything after R, it replays from the ring and registers for new ones in
  the same step (no ``await`` in between, so nothing slips through). If R is
  older than the ring, the subscriber reads from the store directly
  (``store.watch``), which raises ``Compacted`` when the store has forgotten.
- A subscriber whose queue is full is dropped: what it had queued is thrown
  away (delivering what came after a change it never got would let the
  client resume past that change), its stream ends and the client re-watches
  from the last revision it saw, as Kubernetes clients do. A slow client
  never makes the hub buffer without bound.
- Progress (``changes(..., progress_every=s)``): at most every ``s``
  seconds, at a moment the subscriber's queue is empty, it yields
  ``Progress(R)`` with the hub's position R. Publishing is synchronous, so
  every change at or below R under the prefix was yielded before it: a
  bookmark at R can never let a client skip a change still on its way
  (one taken from the hub's position while changes were queued could).

- A failure of the hub's store watch ends every subscriber with that error
  (their streams send it as an ERROR event); the hub resumes from its
  position and later watchers, resuming from their last revision, miss
  nothing.

Because the hub reads the store's change log, writes made by other API
servers on the same etcd reach this one's watchers too.

Listeners (``add_listener``) are called synchronously with each change
before any subscriber gets it: state that decides what a watcher may do
next (the Node authorizer's graph) is current before the watcher can act.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from orchestrator.api import jsoncodec
from orchestrator.store.base import Compacted, Event, Store

log = logging.getLogger(__name__)

NOT_OBJECTS = "/registry/ranges/"  # service IP / node port allocations


class Change:
    """A store change as watchers see it, decoded on first use and then shared.

    ``obj`` is the object after (or, for DELETE, its last state) with its
    resourceVersion; ``prev`` the object before a PUT (None for a create), for
    selectors that need to see an object stop matching; ``encoded`` ``obj`` as
    JSON. Each is worked out once however many watchers send the change, and
    only if one needs it.
    """

    __slots__ = ("_encoded", "_obj", "_prev", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._obj: dict[str, Any] | None = None
        self._prev: dict[str, Any] | None = None
        self._encoded: bytes | None = None

    @property
    def type(self) -> str:  # PUT | DELETE
        return self.event.type

    @property
    def key(self) -> str:
        return self.event.key

    @property
    def revision(self) -> int:
        return self.event.revision

    @property
    def obj(self) -> dict[str, Any]:
        if self._obj is None:
            obj = jsoncodec.loads(self.event.value)
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.event.revision)
            self._obj = obj
        return self._obj

    @property
    def prev(self) -> dict[str, Any] | None:
        event = self.event
        if self._prev is None and event.prev_value is not None and event.type == "PUT":
            self._prev = jsoncodec.loads(event.prev_value)
        return self._prev

    @property
    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = jsoncodec.dumps(self.obj)
        return self._encoded


class Dropped(Exception):
    """The subscriber fell too far behind and was disconnected."""


class Progress:
    """Every change up to ``revision`` under the subscriber's prefix has been yielded."""

    __slots__ = ("revision",)

    def __init__(self, revision: int) -> None:
        self.revision = revision


class _Subscriber:
    def __init__(self, prefix: str, after: int, capacity: int) -> None:
        self.prefix = prefix
        self.after = after
        self.queue: asyncio.Queue[Change | Exception | None] = asyncio.Queue(capacity)
        self.dropped = False

    def fail(self, exc: Exception) -> None:
        """End this subscriber with ``exc`` after what it has queued (or at once, if full)."""
        try:
            self.queue.put_nowait(exc)
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        self.dropped = True
        while not self.queue.empty():  # nothing after the change it misses may reach it
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    def offer(self, change: Change) -> bool:
        if change.revision <= self.after or not change.key.startswith(self.prefix):
            return True
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.drop()
            return False
        return True


_NOTHING = object()


async def _get_within(queue: asyncio.Queue[Any], seconds: float) -> Any:
    """The queue's next item, or ``_NOTHING`` after ``seconds``.

    Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation
    that races its timeout, and a watch stream awaiting its cancelled pump
    would then hang. A get cancelled before it resumed leaves its item queued.
    """
    getter = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getter}, timeout=seconds)
    finally:
        if not getter.done():
            getter.cancel()
    return getter.result() if getter.done() and not getter.cancelled() else _NOTHING


class WatchHub:
    def __init__(self, store: Store, *, window: int = 20000, queue_size: int = 10000) -> None:
        self._store = store
        self._ring: collections.deque[Event] = collections.deque(maxlen=window)
        self._queue_size = queue_size
        self._subscribers: set[_Subscriber] = set()
        self._listeners: list[Callable[[Change], None]] = []
        self._position = 0  # every change with revision <= position has been seen
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def revision(self) -> int:
        return self._position

    def add_listener(self, listener: Callable[[Change], None]) -> None:
        """Call ``listener`` with every change, before subscribers see it; it must not raise."""
        self._listeners.append(listener)

    async def start(self) -> None:
        self._position = await self._store.current_revision()
        self._task = asyncio.create_task(self._follow(), name="watch-hub")
        self._ready.set()

    async def stop(self) -> None:
        # Cancel until it ends: Python 3.11's wait_for (in the store's watch) can swallow a
        # cancellation that races its timeout, and awaiting the task once would then hang.
        while self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=0.5)
        for sub in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)

    async def _follow(self) -> None:
        while True:
            try:
                async for event in self._store.watch("/registry/", self._position):
                    if event.key.startswith(NOT_OBJECTS):  # allocator keys: not JSON objects
                        self._position = event.revision
                        continue
                    self._publish(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store failed: end the watches it fed, then resume
                log.exception("watch hub lost its store watch; resuming from %s", self._position)
                for sub in list(self._subscribers):
                    sub.fail(exc)
                    self._subscribers.discard(sub)
                await asyncio.sleep(0.5)

    def _publish(self, event: Event) -> None:
        self._ring.append(event)
        self._position = event.revision
        change = Change(event)
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                log.exception("watch hub listener failed on %s", event.key)
        for sub in list(self._subscribers):
            if not sub.offer(change):
                self._subscribers.discard(sub)

    async def changes(
        self, prefix: str, after: int, progress_every: float = 0.0
    ) -> AsyncIterator[Change | Progress]:
        """Every change under ``prefix`` with revision > ``after``, until cancelled; with
        ``progress_every``, a ``Progress`` at most that often (see the module docstring)."""
        if after < self._position:
            # The ring may outlive the store's history; a resume the store could not serve
            # answers Compacted here too, the same on every API server.
            compacted = await self._store.compacted_revision()
            if after < compacted:
                raise Compacted(after, compacted)
        oldest = self._ring[0].revision if self._ring else self._position + 1
        if after + 1 < oldest and after < self._position:
            async for event in self._direct(prefix, after, progress_every):
                yield event
            return
        ring = self._ring
        snapshot = [Change(e) for e in ring if e.revision > after and e.key.startswith(prefix)]
        sub = _Subscriber(prefix, max(after, self._position), self._queue_size)
        self._subscribers.add(sub)
        loop = asyncio.get_running_loop()
        next_progress = loop.time() + progress_every
        try:
            for change in snapshot:
                yield change
            while True:
                if progress_every and sub.queue.empty() and loop.time() >= next_progress:
                    next_progress = loop.time() + progress_every
                    yield Progress(self._position)
                    continue
                if not progress_every or not sub.queue.empty():
                    queued = await sub.queue.get()
                else:
                    queued = await _get_within(sub.queue, next_progress - loop.time())
                    if queued is _NOTHING:
                        continue
                if queued is None:
                    raise Dropped()
                if isinstance(queued, Exception):
                    raise queued
                yield queued
        finally:
            self._subscribers.discard(sub)

    async def _direct(
        self, prefix: str, after: int, progress_every: float
    ) -> AsyncIterator[Change | Progress]:
        """Catch up from the store, then join the live feed once the ring overlaps."""
        position = after
        async for event in self._store.watch(prefix, after):
            yield Change(event)
            position = event.revision
            oldest = self._ring[0].revision if self._ring else self._position + 1
            if position + 1 >= oldest:
                break
        async for change in self.changes(prefix, position, progress_every):
            yield change

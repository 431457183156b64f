"""Watch fan-out: one store watch per API server, shared by every HTTP watch.

The hub follows ``/registry/`` from the revision it started at, decodes each
change once, keeps the last ``window`` changes in a ring, and hands them to
subscribers through bounded queues. Ordering and completeness:

- A subscriber asks for changes after revision R. If the ring still holds
  everything after R, it replays from the ring and registers for new ones in
  the same step (no ``await`` in between, so nothing slips through). If R is
  older than the ring, the subscriber reads from the store directly
  (``store.watch``), which raises ``Compacted`` when the store has forgotten.
- A subscriber whose queue is full is dropped: its stream ends and the client
  re-watches from the last revision it saw, as Kubernetes clients do. A slow
  client never makes the hub buffer without bound.

Because the hub reads the store's change log, writes made by other API
servers on the same etcd reach this one's watchers too.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from orchestrator.api import jsoncodec
from orchestrator.store.base import Compacted, Event, Store

log = logging.getLogger(__name__)

NOT_OBJECTS = "/registry/ranges/"  # service IP / node port allocations


@dataclass(frozen=True, slots=True)
class Change:
    """A decoded store change: the object after (or, for DELETE, its last state)."""

    type: str  # PUT | DELETE
    key: str
    revision: int
    obj: dict[str, Any]
    prev: dict[str, Any] | None
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False)  # see encoded_object


def encoded_object(change: Change) -> bytes:
    """The object as JSON, encoded once however many watchers send it."""
    cached = change.encoded.get("json")
    if cached is None:
        cached = change.encoded["json"] = jsoncodec.dumps(change.obj)
    return cached


class Dropped(Exception):
    """The subscriber fell too far behind and was disconnected."""


def to_change(event: Event) -> Change:
    obj = jsoncodec.loads(event.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(event.revision)
    prev = None
    if event.prev_value is not None and event.type == "PUT":
        prev = jsoncodec.loads(event.prev_value)
    return Change(event.type, event.key, event.revision, obj, prev)


class _Subscriber:
    def __init__(self, prefix: str, after: int, capacity: int) -> None:
        self.prefix = prefix
        self.after = after
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(capacity)
        self.dropped = False

    def offer(self, change: Change) -> bool:
        if change.revision <= self.after or not change.key.startswith(self.prefix):
            return True
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.dropped = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.get_nowait()
                self.queue.put_nowait(None)
            return False
        return True


class WatchHub:
    def __init__(self, store: Store, *, window: int = 20000, queue_size: int = 10000) -> None:
        self._store = store
        self._ring: collections.deque[Change] = collections.deque(maxlen=window)
        self._queue_size = queue_size
        self._subscribers: set[_Subscriber] = set()
        self._position = 0  # every change with revision <= position has been seen
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def revision(self) -> int:
        return self._position

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
                    self._publish(to_change(event))
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup: resume from where we were
                log.exception("watch hub lost its store watch; resuming from %s", self._position)
                await asyncio.sleep(0.5)

    def _publish(self, change: Change) -> None:
        self._ring.append(change)
        self._position = change.revision
        for sub in list(self._subscribers):
            if not sub.offer(change):
                self._subscribers.discard(sub)

    async def changes(self, prefix: str, after: int) -> AsyncIterator[Change]:
        """Every change under ``prefix`` with revision > ``after``, until cancelled."""
        if after < self._position:
            # The ring may outlive the store's history; a resume the store could not serve
            # answers Compacted here too, the same on every API server.
            compacted = await self._store.compacted_revision()
            if after < compacted:
                raise Compacted(after, compacted)
        oldest = self._ring[0].revision if self._ring else self._position + 1
        if after + 1 < oldest and after < self._position:
            async for event in self._direct(prefix, after):
                yield event
            return
        snapshot = [c for c in self._ring if c.revision > after and c.key.startswith(prefix)]
        sub = _Subscriber(prefix, max(after, self._position), self._queue_size)
        self._subscribers.add(sub)
        try:
            for change in snapshot:
                yield change
            while True:
                queued = await sub.queue.get()
                if queued is None:
                    raise Dropped()
                yield queued
        finally:
            self._subscribers.discard(sub)

    async def _direct(self, prefix: str, after: int) -> AsyncIterator[Change]:
        """Catch up from the store, then join the live feed once the ring overlaps."""
        position = after
        async for event in self._store.watch(prefix, after):
            yield to_change(event)
            position = event.revision
            oldest = self._ring[0].revision if self._ring else self._position + 1
            if position + 1 >= oldest:
                break
        async for change in self.changes(prefix, position):
            yield change

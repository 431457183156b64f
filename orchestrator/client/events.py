"""Recording core/v1 Events: what a component did, for ``get events`` and ``describe``.

Three rules from client-go's recorder keep a busy controller from flooding
the store:

- **Folding**: repeated events (same object, type, reason and message) are
  one Event whose ``count`` and ``lastTimestamp`` move.
- **Aggregation**: past ``similar_limit`` events about one object with the
  same type and reason but different messages within ``similar_window``,
  the rest fold into one Event whose message starts with "(combined from
  similar events): " (a ReplicaSet creating 500 pods says so in ten Events
  and one combined, not 500).
- **Spam filter**: each object may be the subject of ``spam_burst`` events,
  refilled at one per ``spam_refill`` seconds; beyond that they are dropped
  (client-go: burst 25, one per 5 minutes).

Recording is best effort: a failure is logged, never raised into the
caller's control loop.

``emit`` returns at once: events are written by background workers (as
client-go's broadcaster does), so a controller creating 500 pods does not
wait for 500 Event writes. The same event always goes to the same worker,
which keeps folding exact. Past ``backlog`` waiting events new ones are
dropped and logged, never allowed to slow the control loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.leader import micro_time
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
_REMEMBERED = 4096


def _now() -> str:
    return micro_time()[:19] + "Z"


_Queued = tuple[dict[str, Any], str, str, str]
COMBINED = "(combined from similar events): "
_DROP_REPORT_INTERVAL = 10.0  # seconds between warnings about a full backlog


@dataclass(frozen=True)
class EventLimits:
    """client-go's defaults; tests shorten or widen them."""

    spam_burst: int = 25  # events per object before the filter drops
    spam_refill: float = 300.0  # seconds to earn one more
    similar_limit: int = 10  # distinct messages per (object, type, reason) before combining
    similar_window: float = 600.0  # ... counted over this many seconds


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class EventThrottle:
    """The spam filter and the similar-event aggregator: pure bookkeeping, no I/O."""

    def __init__(self, limits: EventLimits, clock: Any = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._similar: OrderedDict[tuple[str, ...], tuple[float, set[str]]] = OrderedDict()

    def admit(self, subject: str) -> bool:
        """Take a token for ``subject``; False means drop the event."""
        now = self.clock()
        bucket = self._buckets.get(subject)
        if bucket is None:
            bucket = self._buckets[subject] = _Bucket(float(self.limits.spam_burst), now)
        else:
            earned = (now - bucket.stamp) / self.limits.spam_refill
            bucket.tokens = min(float(self.limits.spam_burst), bucket.tokens + earned)
            bucket.stamp = now
            self._buckets.move_to_end(subject)
        _trim(self._buckets)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def message(self, subject: str, type_: str, reason: str, message: str) -> str:
        """``message``, or the combined form once the object has had too many similar ones."""
        key = (subject, type_, reason)
        now = self.clock()
        first, messages = self._similar.get(key) or (now, set())
        if now - first > self.limits.similar_window:
            first, messages = now, set()
        if message not in messages and len(messages) >= self.limits.similar_limit:
            self._similar[key] = (first, messages)
            return COMBINED + message
        messages.add(message)
        self._similar[key] = (first, messages)
        self._similar.move_to_end(key)
        _trim(self._similar)
        return message


def _trim(cache: OrderedDict[Any, Any]) -> None:
    while len(cache) > _REMEMBERED:
        cache.popitem(last=False)


class EventRecorder:
    def __init__(
        self,
        client: APIClient,
        component: str,
        host: str = "",
        *,
        workers: int = 2,
        backlog: int = 1000,
        limits: EventLimits | None = None,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()
        self._workers = workers
        self._backlog = backlog
        self._queues: list[asyncio.Queue[_Queued | None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.throttle = EventThrottle(limits or EventLimits())
        self._dropped = 0  # events dropped on a full backlog since the last warning
        self._drop_reported = -_DROP_REPORT_INTERVAL

    async def emit(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record a ``Normal`` or ``Warning`` event about ``obj`` (written in the background)."""
        self.record(obj, type_, reason, message)

    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """``emit`` for code that is not a coroutine (needs a running event loop)."""
        if not self._tasks:
            self._queues = [asyncio.Queue(self._backlog) for _ in range(self._workers)]
            self._tasks = [
                asyncio.create_task(self._send(q), name=f"events-{i}")
                for i, q in enumerate(self._queues)
            ]
        meta = metadata_of(obj)
        subject = meta.get("uid") or f"{obj.get('kind')}/{meta.get('namespace')}/{meta.get('name')}"
        if not self.throttle.admit(subject):
            log.debug("event spam filter: dropped %s %s on %s", type_, reason, meta.get("name"))
            return
        message = self.throttle.message(subject, type_, reason, message)
        fold = COMBINED if message.startswith(COMBINED) else message  # one writer per Event
        shard = hash((meta.get("uid"), reason, fold)) % len(self._queues)
        try:
            self._queues[shard].put_nowait((obj, type_, reason, message))
        except asyncio.QueueFull:
            # One warning per interval, not per event: a burst that fills the backlog would
            # otherwise spend its CPU formatting a log line for every event it drops.
            self._dropped += 1
            now = time.monotonic()
            if now - self._drop_reported >= _DROP_REPORT_INTERVAL:
                log.warning(
                    "event backlog full: dropped %d event(s) since the last report, the latest "
                    "%s %s on %s",
                    self._dropped,
                    type_,
                    reason,
                    meta.get("name"),
                )
                self._dropped = 0
                self._drop_reported = now

    async def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for at most ``timeout``), then stop the writers."""
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._queues = []

    async def _send(self, queue: asyncio.Queue[_Queued | None]) -> None:
        while (item := await queue.get()) is not None:
            await self.write(*item)

    async def write(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Write one event now (folding repeats); failures are logged."""
        assert EVENTS is not None
        meta = metadata_of(obj)
        namespace = meta.get("namespace") or "default"
        involved = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        key = (involved["uid"], involved["name"], type_, reason, message)
        if message.startswith(COMBINED):  # every combined message folds into one Event
            key = (involved["uid"], involved["name"], type_, reason, COMBINED)
        now = _now()
        try:
            known = self._seen.get(key)
            if known is not None:
                ns, name, count = known
                change: dict[str, Any] = {"count": count + 1, "lastTimestamp": now}
                if message.startswith(COMBINED):
                    change["message"] = message
                await self.client.patch(EVENTS, name, change, ns)
                self._remember(key, (ns, name, count + 1))
                return
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{meta.get('name', 'object')}.{secrets.token_hex(8)}",
                    "namespace": namespace,
                },
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {
                    "component": self.component,
                    **({"host": self.host} if self.host else {}),
                },
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "reportingComponent": self.component,
                "reportingInstance": self.host,
            }
            created = await self.client.create(EVENTS, event, namespace)
            self._remember(key, (namespace, created["metadata"]["name"], 1))
        except errors.APIError as exc:
            if isinstance(exc, errors.NotFound):
                self._seen.pop(key, None)  # expired meanwhile: the next one starts afresh
            log.warning("could not record event %s on %s: %s", reason, involved["name"], exc)

    def _remember(self, key: tuple[str, ...], value: tuple[str, str, int]) -> None:
        self._seen[key] = value
        self._seen.move_to_end(key)
        _trim(self._seen)

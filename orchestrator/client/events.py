"""Recording core/v1 Events: what a component did, for ``get events`` and ``describe``.

Repeated events (same object, type, reason and message) are folded into one
Event whose ``count`` and ``lastTimestamp`` move, as Kubernetes' recorder
does, so a loop that retries does not flood the store. Recording is best
effort: a failure is logged, never raised into the caller's control loop.

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
from collections import OrderedDict
from typing import Any

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.leader import micro_time
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")
_REMEMBERED = 4096


def _now() -> str:
    return micro_time()[:19] + "Z"


_Queued = tuple[dict[str, Any], str, str, str]


class EventRecorder:
    def __init__(
        self,
        client: APIClient,
        component: str,
        host: str = "",
        *,
        workers: int = 2,
        backlog: int = 1000,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()
        self._workers = workers
        self._backlog = backlog
        self._queues: list[asyncio.Queue[_Queued | None]] = []
        self._tasks: list[asyncio.Task[None]] = []

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
        meta = obj.get("metadata", {})
        shard = hash((meta.get("uid"), reason, message)) % len(self._queues)
        try:
            self._queues[shard].put_nowait((obj, type_, reason, message))
        except asyncio.QueueFull:
            log.warning("event backlog full: dropped %s %s on %s", type_, reason, meta.get("name"))

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
        meta = obj.get("metadata", {})
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
        now = _now()
        try:
            known = self._seen.get(key)
            if known is not None:
                ns, name, count = known
                await self.client.patch(
                    EVENTS, name, {"count": count + 1, "lastTimestamp": now}, ns
                )
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
        while len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)

"""Running reconcilers: shared informers and the worker loop every controller uses.

``SharedInformers`` hands out one informer per (resource, namespace,
selector), so the scheduler and several controllers in one process share a
cache and a watch. ``run_workers`` takes keys from a work queue and calls a
reconcile function: success forgets the key's failures (and re-queues it
after the delay the reconciler asks for, if any); a failure re-queues it
with backoff. A Conflict is the ordinary outcome of optimistic concurrency
(the cache was a step behind) and is retried quietly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

from orchestrator.api import errors
from orchestrator.api.resources import ResourceType
from orchestrator.client.informer import Informer, InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.client.workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)

Reconcile = Callable[[str], Awaitable[float | None]]


class SharedInformers:
    def __init__(self, client: APIClient, settings: InformerSettings | None = None) -> None:
        self.client = client
        self.settings = settings or InformerSettings()
        self._informers: dict[tuple[str, str, str, str], Informer] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def informer(
        self,
        rt: ResourceType,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
    ) -> Informer:
        key = (rt.api_version + "/" + rt.plural, namespace, label_selector, field_selector)
        if key not in self._informers:
            self._informers[key] = Informer(
                self.client,
                rt,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                settings=self.settings,
            )
        return self._informers[key]

    def start(self, tg: asyncio.TaskGroup) -> None:
        """Start every informer made so far (each runs until the group ends)."""
        for key, informer in self._informers.items():
            if not any(t.get_name() == repr(key) for t in self._tasks):
                self._tasks.append(tg.create_task(informer.run(), name=repr(key)))

    async def wait_synced(self) -> None:
        """Until every informer made so far has listed once."""
        await asyncio.gather(*(i.synced.wait() for i in self._informers.values()))


async def run_workers(
    queue: WorkQueue, reconcile: Reconcile, *, workers: int = 2, name: str = "controller"
) -> None:
    """Process keys from ``queue`` with ``workers`` concurrent workers until it shuts down."""

    async def worker() -> None:
        while True:
            try:
                key: Hashable = await queue.get()
            except ShutDown:
                return
            try:
                requeue = await reconcile(str(key))
            except asyncio.CancelledError:
                raise
            except errors.Conflict:
                queue.add_rate_limited(key)
            except Exception as exc:
                delay = queue.add_rate_limited(key)
                if isinstance(exc, errors.APIError):
                    log.warning("%s: %s: %s (retry in %.2fs)", name, key, exc, delay)
                else:
                    log.exception("%s: reconciling %s failed (retry in %.2fs)", name, key, delay)
            else:
                queue.forget(key)
                if requeue:
                    queue.add_after(key, requeue)
            finally:
                queue.done(key)

    async with asyncio.TaskGroup() as tg:
        for i in range(workers):
            tg.create_task(worker(), name=f"{name}-worker-{i}")

"""What every service proxy watches: Services and Endpoints in, one sync call per burst out.

``ServiceFeed.run(sync)`` starts informers on both kinds, waits for their
first lists and then calls ``sync(service_ports)`` (``rules.service_ports``:
every cluster IP port with its ready endpoints) whenever either changes.
Changes arriving within ``coalesce`` seconds are applied together, never
more often than every ``min_sync_interval`` and at least every
``max_sync_interval`` (which heals what was changed behind the proxy's
back). A sync raising ``SyncFailed`` is logged and tried again after
``retry_interval``; anything else ends the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.informer import Handler, InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.proxy import metrics
from orchestrator.proxy.rules import ServicePort, service_ports

log = logging.getLogger(__name__)

SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")


class SyncFailed(Exception):
    """A sync that could not be carried out this time; the feed retries it."""


@dataclass(frozen=True)
class FeedSettings:
    coalesce: float = 0.1  # seconds to gather a burst of changes into one sync
    min_sync_interval: float = 0.2  # seconds between two syncs, at least
    max_sync_interval: float = 30.0  # seconds between two syncs, at most
    retry_interval: float = 1.0  # seconds before a failed sync is tried again
    informer: InformerSettings = field(default_factory=InformerSettings)


class ServiceFeed:
    def __init__(self, client: APIClient, settings: FeedSettings | None = None) -> None:
        self.settings = settings or FeedSettings()
        self.informers = SharedInformers(client, self.settings.informer)
        self.services = self.informers.informer(SERVICES)
        self.endpoints = self.informers.informer(ENDPOINTS)
        self._changed = asyncio.Event()
        poke = Handler(
            on_add=lambda _o: self.poke(),
            on_update=lambda _o, _n: self.poke(),
            on_delete=lambda _o: self.poke(),
        )
        self.services.add_handler(poke)
        self.endpoints.add_handler(poke)

    def poke(self) -> None:
        """Ask for a sync soon (a change, or something the proxy wants to try again)."""
        self._changed.set()

    def ports(self) -> list[ServicePort]:
        return service_ports(self.services.list(), self.endpoints.list())

    async def run(
        self,
        sync: Callable[[list[ServicePort]], Awaitable[None]],
        tg: asyncio.TaskGroup,
    ) -> None:
        """Start the informers in ``tg``, then sync on every change until cancelled."""
        self.informers.start(tg)
        await self.informers.wait_synced()
        loop = asyncio.get_running_loop()
        s = self.settings
        last = -s.min_sync_interval
        self._changed.set()
        while True:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=s.max_sync_interval)
                await asyncio.sleep(max(s.coalesce, last + s.min_sync_interval - loop.time()))
            except TimeoutError:
                pass
            self._changed.clear()
            last = loop.time()
            try:
                with metrics.SYNC_DURATION.time():
                    await sync(self.ports())
                metrics.LAST_SYNC.set_to_current_time()
            except SyncFailed as exc:
                log.error("proxy sync failed, retrying: %s", exc)
                loop.call_later(s.retry_interval, self._changed.set)

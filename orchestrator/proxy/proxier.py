"""The node proxy in root mode: Services and Endpoints in, kernel rules out.

``IptablesProxier.run()`` starts informers on Services and Endpoints and
rewrites the rules whenever either changes. The first sync replaces whatever
an earlier run left (its stale chains are deleted in the same restore), so a
restarted proxy never opens a gap, and one that cannot reach the API server
leaves the last rules serving. Changes arriving within ``coalesce`` seconds
are applied together, never more often than every ``min_sync_interval`` and
at least every ``max_sync_interval`` (which heals a rule removed by hand). The
service range is routed to the node bridge so an address in it never leaves
the machine, even before its rules exist. Established connections to an
endpoint that goes away keep flowing (conntrack keeps their translation):
they drain; new connections only go to ready endpoints. ``cleanup()`` removes
everything; the run does it on the way out when ``cleanup_on_exit`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.informer import Handler, InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.proxy import conntrack, kernel, rules

log = logging.getLogger(__name__)
Obj = dict[str, Any]

SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")


@dataclass(frozen=True)
class ProxySettings:
    service_cidr: str = "10.96.0.0/16"  # the API server's cluster IP range
    cluster_cidr: str = ""  # the pod range; clients outside it are masqueraded ("" = not)
    bridge: str = ""  # the node bridge the service range is routed to ("" = no route)
    coalesce: float = 0.1  # seconds to gather a burst of changes into one sync
    min_sync_interval: float = 0.2  # seconds between two syncs, at least
    max_sync_interval: float = 30.0  # seconds between two syncs, at most
    retry_interval: float = 1.0  # seconds between route checks, and before retrying a sync
    localhost_nodeports: bool = True  # 127.0.0.1:<nodePort> works (sets route_localnet)
    cleanup_on_exit: bool = False  # remove every rule when the run ends
    informer: InformerSettings = field(default_factory=InformerSettings)


class IptablesProxier:
    def __init__(self, client: APIClient, settings: ProxySettings | None = None) -> None:
        self.client = client
        self.settings = settings or ProxySettings()
        self.informers = SharedInformers(client, self.settings.informer)
        self.services = self.informers.informer(SERVICES)
        self.endpoints = self.informers.informer(ENDPOINTS)
        self._changed = asyncio.Event()
        self._kernel = threading.Lock()  # a cancelled sync's thread finishes before cleanup
        self.syncs = 0  # how many syncs succeeded (for logs and tests)
        self._programmed: list[rules.ServicePort] = []  # what the last sync wrote
        poke = Handler(
            on_add=lambda _o: self._changed.set(),
            on_update=lambda _o, _n: self._changed.set(),
            on_delete=lambda _o: self._changed.set(),
        )
        self.services.add_handler(poke)
        self.endpoints.add_handler(poke)

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self.informers.start(tg)
                await self.informers.wait_synced()
                tg.create_task(self._sync_loop())
                if self.settings.bridge:
                    tg.create_task(self._route_loop())
        finally:
            if self.settings.cleanup_on_exit:
                await asyncio.shield(asyncio.to_thread(self.cleanup))

    async def _sync_loop(self) -> None:
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
            services, endpoints = self.services.list(), self.endpoints.list()
            try:
                await asyncio.to_thread(self.sync, services, endpoints)
            except kernel.KernelError as exc:
                log.error("proxy sync failed, retrying: %s", exc)
                loop.call_later(s.retry_interval, self._changed.set)

    async def _route_loop(self) -> None:
        """Keep the service range routed to the bridge, which the node agent may remake."""
        s = self.settings
        missing_logged = False
        while True:
            try:
                routed = await asyncio.to_thread(self._route)
            except kernel.KernelError as exc:
                log.error("cannot route %s to %s: %s", s.service_cidr, s.bridge, exc)
                routed = True
            if not routed and not missing_logged:
                log.info("bridge %s does not exist yet: %s not routed", s.bridge, s.service_cidr)
            missing_logged = not routed
            await asyncio.sleep(s.retry_interval)

    def _route(self) -> bool:
        with self._kernel:
            return kernel.route_service_range(self.settings.service_cidr, self.settings.bridge)

    def sync(self, services: list[Obj], endpoints: list[Obj]) -> None:
        """Write the rules for this state of the cluster (blocking: call in a thread)."""
        with self._kernel:
            self._sync(services, endpoints)

    def _sync(self, services: list[Obj], endpoints: list[Obj]) -> None:
        s = self.settings
        ports = rules.service_ports(services, endpoints)
        found = kernel.saved_chains()
        kernel.restore(
            rules.restore_text(
                ports,
                cluster_cidr=s.cluster_cidr,
                service_cidr=s.service_cidr,
                existing_nat=found.get("nat", []),
                existing_filter=found.get("filter", []),
            )
        )
        kernel.ensure_jumps()
        conntrack.flush(conntrack.udp_flushes(self._programmed, ports))
        self._programmed = ports
        if s.localhost_nodeports:
            kernel.allow_localhost_nodeports()
        self.syncs += 1
        log.debug("proxy sync %d: %d service ports", self.syncs, len(ports))

    def cleanup(self) -> None:
        """Remove every rule of ours and the service route (blocking)."""
        with self._kernel:
            self.cleanup_kernel(self.settings)

    @staticmethod
    def cleanup_kernel(settings: ProxySettings) -> None:
        """Remove every rule of ours and the service route, with no proxier running."""
        kernel.remove_all()
        if settings.bridge:
            kernel.unroute_service_range(settings.service_cidr, settings.bridge)

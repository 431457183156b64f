"""The node proxy in root mode: Services and Endpoints in, kernel rules out.

``IptablesProxier.run()`` follows Services and Endpoints through a
``ServiceFeed`` (coalesced syncs, a periodic one that heals a rule removed
by hand) and rewrites the rules on each sync. The first sync replaces
whatever an earlier run left (its stale chains are deleted in the same
restore), so a restarted proxy never opens a gap, and one that cannot reach
the API server leaves the last rules serving. The service range is routed
to the node bridge (to ``lo`` until the bridge exists) so an address in it
never leaves the machine, even before its rules exist. Established
connections to an endpoint that goes away keep flowing (conntrack keeps their translation):
they drain; new connections only go to ready endpoints. ``cleanup()`` removes
everything; the run does it on the way out when ``cleanup_on_exit`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

from orchestrator.client.informer import InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.netfilter import iptables, localnet
from orchestrator.proxy import conntrack, kernel, rules
from orchestrator.proxy.feed import ENDPOINTS, SERVICES, FeedSettings, ServiceFeed, SyncFailed

log = logging.getLogger(__name__)
__all__ = ["ENDPOINTS", "SERVICES", "IptablesProxier", "ProxySettings"]


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
        self.settings = s = settings or ProxySettings()
        self.feed = ServiceFeed(
            client,
            FeedSettings(
                coalesce=s.coalesce,
                min_sync_interval=s.min_sync_interval,
                max_sync_interval=s.max_sync_interval,
                retry_interval=s.retry_interval,
                informer=s.informer,
            ),
        )
        self._kernel = threading.Lock()  # a cancelled sync's thread finishes before cleanup
        self.syncs = 0  # how many syncs succeeded (for logs and tests)
        self._programmed: list[rules.ServicePort] = []  # what the last sync wrote

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                if self.settings.bridge:
                    tg.create_task(self._route_loop())
                await self.feed.run(self._sync_in_thread, tg)
        finally:
            if self.settings.cleanup_on_exit:
                await asyncio.shield(asyncio.to_thread(self.cleanup))

    async def _sync_in_thread(self, ports: list[rules.ServicePort]) -> None:
        try:
            await asyncio.to_thread(self.sync, ports)
        except iptables.KernelError as exc:
            raise SyncFailed(str(exc)) from exc

    async def _route_loop(self) -> None:
        """Keep the service range routed to the bridge, which the node agent may remake."""
        s = self.settings
        missing_logged = False
        while True:
            try:
                routed = await asyncio.to_thread(self._route)
            except iptables.KernelError as exc:
                log.error("cannot route %s to %s: %s", s.service_cidr, s.bridge, exc)
                routed = True
            if not routed and not missing_logged:
                log.info("bridge %s does not exist yet: %s routed to lo", s.bridge, s.service_cidr)
            missing_logged = not routed
            await asyncio.sleep(s.retry_interval)

    def _route(self) -> bool:
        with self._kernel:
            return kernel.route_service_range(self.settings.service_cidr, self.settings.bridge)

    def sync(self, ports: list[rules.ServicePort]) -> None:
        """Write the rules for these service ports (blocking: call in a thread)."""
        with self._kernel:
            self._sync(ports)

    def _sync(self, ports: list[rules.ServicePort]) -> None:
        s = self.settings
        found = kernel.saved_chains()
        iptables.restore(
            rules.restore_text(
                ports,
                cluster_cidr=s.cluster_cidr,
                service_cidr=s.service_cidr,
                existing_nat=found.get("nat", []),
                existing_filter=found.get("filter", []),
            )
        )
        iptables.ensure_jumps(rules.JUMPS)
        conntrack.flush(conntrack.udp_flushes(self._programmed, ports))
        self._programmed = ports
        if s.localhost_nodeports:
            localnet.enable_route_localnet()
        self.syncs += 1
        log.debug("proxy sync %d: %d service ports", self.syncs, len(ports))

    def cleanup(self) -> None:
        """Remove every rule of ours and the service route (blocking)."""
        with self._kernel:
            self.cleanup_kernel(self.settings)

    @staticmethod
    def cleanup_kernel(settings: ProxySettings) -> None:
        """Remove every rule of ours and the service route, with no proxier running.

        The route goes even when the rules cannot (iptables failing): without
        it an address of the range would follow the default route off the
        machine, which the REJECT rules no longer stop.
        """
        try:
            kernel.remove_all()
        finally:
            if settings.bridge:
                kernel.unroute_service_range(settings.service_cidr, settings.bridge)

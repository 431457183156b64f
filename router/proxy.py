"""The reverse proxy: routes each request to a pod of the matched Service.

``Proxy`` holds what every request reads: the route table (replaced whole
whenever the Ingresses or HTTPRoutes change), the Service and Endpoints
lookups, the round-robin balancer, the slots of capped backends
(``router.capacity``), the pool of connections to pods, the activator's
queues and the per-backend stats. The HTTP server
(``router.http1``) asks it for one ``ProxyExchange`` per request
(``router.exchange``), which does the work: match, resolve, forward, relay.
There is no ASGI layer in between: the router's CPU per request was mostly
uvicorn's ASGI machinery (a task, a scope dict, message dicts per request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from router.activator import Activator, ActivatorSettings
from router.backends import Resolution, RoundRobin, resolve
from router.capacity import Capacity
from router.exchange import ProxyExchange
from router.http1 import ClientConnection, Request
from router.ingressroutes import Route, RouteTable, ServiceRef
from router.metrics import RouterStats
from router.upstream import Address, Pool

MEMO_LIMIT = 10_000  # backends whose resolution is remembered before the memo restarts


@dataclass(frozen=True)
class ProxySettings:
    header_timeout: float = 300.0  # seconds for a pod's response headers: 504 after (slow apps
    # and cold starts must not be cut: Envoy's 15 s default is its top complaint)
    body_idle_timeout: float = 300.0  # seconds of silence in a streamed body before it is cut
    scheme: str = "http"  # what X-Forwarded-Proto says (TLS comes later)


class Backends:
    """Where the proxy reads Services and Endpoints: the informer caches, behind two lookups."""

    def __init__(
        self,
        service: Callable[[str, str], Any],
        endpoints: Callable[[str, str], Any],
    ) -> None:
        self._service = service
        self._endpoints = endpoints
        self._memo: dict[ServiceRef, tuple[Any, Any, Resolution]] = {}

    def resolve(self, ref: ServiceRef) -> Resolution:
        service = self._service(ref.namespace, ref.name)
        endpoints = self._endpoints(ref.namespace, ref.name)
        # Informers replace an object on every change, so identity says "unchanged" (the memo
        # holds the objects themselves: a freed one's address could be reused by a newer one).
        cached = self._memo.get(ref)
        if cached is not None and cached[0] is service and cached[1] is endpoints:
            return cached[2]
        resolution = resolve(ref, service, endpoints)
        if len(self._memo) > MEMO_LIMIT:
            self._memo.clear()
        self._memo[ref] = (service, endpoints, resolution)
        return resolution


class Proxy:
    """Creates the exchanges; ``table`` is replaced whole whenever the routes change."""

    def __init__(
        self,
        backends: Backends,
        settings: ProxySettings | None = None,
        activator: ActivatorSettings | None = None,
        on_held: Callable[[ServiceRef, int], None] | None = None,
    ) -> None:
        self.settings = settings or ProxySettings()
        self.backends = backends
        self.table = RouteTable()
        self.pool = Pool()
        self.balancer = RoundRobin()
        self.stats = RouterStats()
        self.capacity = Capacity()
        self.activator = Activator(backends.resolve, activator, on_held, self.capacity)

    def holds(self, route: Route) -> bool:
        """Whether a request for ``route``'s backend waits for a pod rather than getting 503."""
        return route.kind != "Ingress" or self.activator.settings.hold_ingress

    def free(self, ref: ServiceRef, address: Address) -> None:
        """A capped backend's request ended: its slot goes to the next held one, if any."""
        self.capacity.give(ref, address)
        if self.activator.queues.get(ref):
            # Soon, not now: the ending exchange is still inside its connection's callbacks.
            asyncio.get_running_loop().call_soon(self.activator.drain, ref)

    def exchange(self, request: Request, client: ClientConnection) -> ProxyExchange:
        return ProxyExchange(self, client, request)

    def close(self) -> None:
        self.activator.close()
        self.pool.close()

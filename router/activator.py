"""The activator: requests for a backend with no ready pod wait here until one is ready.

When a matched backend Service exists, has the port, and has no ready
endpoint (scaled to zero, or its pods still starting), the exchange is
``hold``-ed in a queue of that backend (Service and port) instead of being
answered 503. The autoscaler is told at once (``on_held``: the router's
``/signals`` stream), since a backend at zero has no load for it to see.

Held requests leave the queue three ways:

- ``endpoints_changed`` (called by the Endpoints and Service informers'
  handlers: watch-driven, nothing polls) finds ready addresses: every held
  request of that backend is released, in arrival order, and forwarded;
- its hold timeout passes (the route's request timeout, else
  ``hold_timeout``): a 504 page saying no pod became ready in that time;
- its client leaves (``forget``).

A queue holds at most ``queue_limit`` requests; one more is refused with a
503 page that says the queue is full (Knative's nominal bound never bites,
reference 4.3; ours does).

The same queue holds requests for a capped backend (a Service with
``paas.dev/max-requests-per-endpoint``, ``router.capacity``) whose ready
endpoints are all full; the autoscaler hears of them the same way. ``drain``
admits them in arrival order, one per free slot, when a slot frees (an
answer ended: ``Proxy.free``) or an endpoint appears (``endpoints_changed``).
The router sees Services and Endpoints, not Revisions: the serving
controller turns ``containerConcurrency`` into that annotation.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from router.backends import Resolution
from router.capacity import Capacity
from router.ingressroutes import ServiceRef

if TYPE_CHECKING:
    from router.exchange import ProxyExchange


@dataclass(frozen=True)
class ActivatorSettings:
    queue_limit: int = 100  # held requests per backend before 503 (a burst, not a flood)
    hold_timeout: float = 300.0  # seconds held when the route sets no timeout (Knative's default)
    hold_ingress: bool = False  # Ingress backends 503 at once: the App's Deployments never sit at 0


class Activator:
    def __init__(
        self,
        resolve: Callable[[ServiceRef], Resolution],
        settings: ActivatorSettings | None = None,
        on_held: Callable[[ServiceRef, int], None] | None = None,
        capacity: Capacity | None = None,
    ) -> None:
        self.resolve = resolve
        self.capacity = capacity or Capacity()
        self.settings = settings or ActivatorSettings()
        self.on_held = on_held
        self.queues: dict[ServiceRef, collections.deque[ProxyExchange]] = {}
        self.timers: dict[ProxyExchange, asyncio.TimerHandle] = {}

    def hold(self, exchange: ProxyExchange, ref: ServiceRef, timeout: float) -> bool:
        """Queue ``exchange`` until ``ref`` has a ready endpoint; False: the queue is full."""
        queue = self.queues.get(ref)
        if queue is None:
            queue = self.queues[ref] = collections.deque()
        if len(queue) >= self.settings.queue_limit:
            return False
        queue.append(exchange)
        loop = asyncio.get_running_loop()
        self.timers[exchange] = loop.call_later(
            timeout or self.settings.hold_timeout, self._expire, exchange, ref
        )
        if self.on_held is not None:
            self.on_held(ref, len(queue))
        return True

    def held(self, ref: ServiceRef) -> int:
        queue = self.queues.get(ref)
        return len(queue) if queue else 0

    def endpoints_changed(self, namespace: str, name: str) -> None:
        """Release the held requests of that Service's backends that now have ready pods."""
        for ref in [r for r in self.queues if r.name == name and r.namespace == namespace]:
            self.drain(ref)

    def drain(self, ref: ServiceRef) -> None:
        """Forward what ``ref``'s queue may send now: all of it, or one per free slot."""
        queue = self.queues.get(ref)
        if not queue:
            return
        resolution = self.resolve(ref)
        if not resolution.addresses:
            return
        if not resolution.limit:
            del self.queues[ref]
            for exchange in queue:
                self._untime(exchange)
            for exchange in queue:
                exchange.released(resolution.addresses)
            return
        while queue:
            address = self.capacity.take(ref, resolution)
            if address is None:
                break
            exchange = queue.popleft()
            self._untime(exchange)
            exchange.admitted(ref, address)
        if not queue:
            del self.queues[ref]

    def forget(self, exchange: ProxyExchange, ref: ServiceRef) -> None:
        """The client left while held."""
        queue = self.queues.get(ref)
        if queue is not None and exchange in queue:
            queue.remove(exchange)
            if not queue:
                del self.queues[ref]
        self._untime(exchange)

    def close(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    def _expire(self, exchange: ProxyExchange, ref: ServiceRef) -> None:
        self.timers.pop(exchange, None)
        self.forget(exchange, ref)
        exchange.hold_expired()

    def _untime(self, exchange: ProxyExchange) -> None:
        timer = self.timers.pop(exchange, None)
        if timer is not None:
            timer.cancel()

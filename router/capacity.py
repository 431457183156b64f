"""Slots per endpoint for backends whose Service caps requests per endpoint.

A Service annotated ``paas.dev/max-requests-per-endpoint: "<n>"``
(``router.backends``) lets each ready endpoint carry at most n requests at
once: Knative's ``containerConcurrency``, enforced where Knative's
activator and queue-proxy enforce it, in front of the pod. ``take`` gives
an endpoint with a free slot, in turn among those that have one, or None
when all are full (the exchange is then held by ``router.activator`` and
admitted when ``give`` frees a slot or a new endpoint appears). A slot is
held from the request's admission until its answer ended (a WebSocket or
other upgrade: until its splice closed).

Only capped backends come here: an uncapped request never touches this
module, so its per-request cost is unchanged. Counts are kept per Service
port and endpoint address; an address that left the Endpoints keeps its
count until its last request ends, then is forgotten.
"""

from __future__ import annotations

from router.backends import Resolution
from router.ingressroutes import ServiceRef
from router.upstream import Address


class Slots:
    """Requests in flight per endpoint of one backend."""

    __slots__ = ("busy", "turn")

    def __init__(self) -> None:
        self.busy: dict[Address, int] = {}
        self.turn = 0

    def take(self, addresses: tuple[Address, ...], limit: int) -> Address | None:
        n = len(addresses)
        busy = self.busy
        for i in range(n):
            index = (self.turn + i) % n
            address = addresses[index]
            count = busy.get(address, 0)
            if count < limit:
                busy[address] = count + 1
                self.turn = index + 1
                return address
        return None

    def give(self, address: Address) -> None:
        count = self.busy.get(address, 0) - 1
        if count > 0:
            self.busy[address] = count
        else:
            self.busy.pop(address, None)


class Capacity:
    """Every capped backend's slots (kept: one small object per backend)."""

    def __init__(self) -> None:
        self.backends: dict[ServiceRef, Slots] = {}

    def take(self, ref: ServiceRef, resolution: Resolution) -> Address | None:
        """An endpoint of ``ref`` with a free slot, now counted busy; None: all are full."""
        slots = self.backends.get(ref)
        if slots is None:
            slots = self.backends[ref] = Slots()
        return slots.take(resolution.addresses, resolution.limit)

    def give(self, ref: ServiceRef, address: Address) -> None:
        slots = self.backends.get(ref)
        if slots is not None:
            slots.give(address)

"""Which endpoint a new connection of the userspace proxy goes to: pure, per service port.

Round robin over the ready endpoints; with ``sessionAffinity: ClientIP`` a
client address keeps the endpoint it last used while that endpoint stays
ready and the client came back within the affinity timeout (as kube-proxy's
``-m recent`` rules and its old userspace mode do). ``candidates`` gives the
order to try: the preferred endpoint first, then the others, so that a
refused connection falls through to the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.proxy.rules import Endpoint


@dataclass
class Balancer:
    endpoints: tuple[Endpoint, ...] = ()
    affinity_timeout: float = 0.0  # seconds; 0 = no session affinity
    _next: int = 0
    _sticky: dict[str, tuple[Endpoint, float]] = field(default_factory=dict)

    def update(self, endpoints: tuple[Endpoint, ...], affinity_timeout: float) -> None:
        """New ready endpoints: affinities to endpoints that went are forgotten."""
        if affinity_timeout != self.affinity_timeout:
            self._sticky.clear()
        self.affinity_timeout = affinity_timeout
        self.endpoints = endpoints
        kept = set(endpoints)
        self._sticky = {c: (ep, t) for c, (ep, t) in self._sticky.items() if ep in kept}

    def candidates(self, client_ip: str, now: float) -> list[Endpoint]:
        """Endpoints in the order to try for a new connection from ``client_ip``."""
        if not self.endpoints:
            return []
        start = self._next % len(self.endpoints)
        self._next = start + 1
        order = list(self.endpoints[start:] + self.endpoints[:start])
        if self.affinity_timeout:
            held = self._sticky.get(client_ip)
            if held is not None and now - held[1] <= self.affinity_timeout:
                order.remove(held[0])
                order.insert(0, held[0])
                self._next = start  # the sticky client did not take a turn
        return order

    def chose(self, client_ip: str, endpoint: Endpoint, now: float) -> None:
        """The connection went to ``endpoint``: remember it for the client's next one.

        A connect can finish after a sync removed its endpoint; that choice is
        not remembered, or the client would stick to an endpoint that is gone.
        """
        if self.affinity_timeout and endpoint in self.endpoints:
            self._sticky[client_ip] = (endpoint, now)
            if len(self._sticky) > 65536:  # forget the longest idle half
                oldest = sorted(self._sticky.items(), key=lambda kv: kv[1][1])
                self._sticky = dict(oldest[len(oldest) // 2 :])

"""Expectations: what a controller is waiting to see in its cache before acting again.

After a controller creates 5 pods, its informer shows them a moment later;
a pass in between would count too few and create 5 more. As in Kubernetes'
ReplicaSet controller, the controller records the creations and deletions it
made (``expect``) and the informer handlers tick them off as the events arrive
(``creation_observed``, ``deletion_observed``); ``satisfied`` is false while
any are outstanding, and the controller then only refreshes status.

Failure behaviour: a write that failed is ticked off at once by its caller
(nothing will be observed). An event that never arrives (a watch gap healed
by a relist that coalesced it) would block the key forever, so expectations
expire after ``ttl`` seconds and the cache is trusted again. State lives in
the instance, one per controller, and is lost on restart, which is safe:
a fresh process has a fresh cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Pending:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    since: float = 0.0


class Expectations:
    def __init__(self, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._pending: dict[str, _Pending] = {}

    def expect(self, key: str, *, adds: int = 0, deletes: Iterable[str] = ()) -> None:
        """Record writes about to be made for controller ``key``."""
        pending = self._pending.setdefault(key, _Pending())
        pending.adds += adds
        pending.deletes.update(deletes)
        pending.since = self._clock()

    def creation_observed(self, key: str) -> None:
        pending = self._pending.get(key)
        if pending is not None and pending.adds > 0:
            pending.adds -= 1

    def deletion_observed(self, key: str, obj_key: str) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.deletes.discard(obj_key)

    def satisfied(self, key: str) -> bool:
        pending = self._pending.get(key)
        if pending is None or (pending.adds <= 0 and not pending.deletes):
            return True
        return self._clock() - pending.since > self.ttl

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)

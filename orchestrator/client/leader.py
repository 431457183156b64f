"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go does.

A candidate takes the Lease when nobody holds it or when the holder has not
renewed it for ``lease_duration``. Expiry is judged by this candidate's own
clock from the moment it last saw the record change (not by comparing the
holder's timestamps with ours), so clock skew between machines does not
matter. Every write carries the resourceVersion read, so two candidates
racing for an expired lease cannot both win: the loser gets 409.

The leader renews every ``retry_period``; if it cannot renew for
``renew_deadline`` it has lost, and ``hold()`` raises ``LostLeadership`` so
that the process stops acting (and exits for its supervisor to restart it)
before another candidate can take over (renew_deadline < lease_duration).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)
LEASES = BUILTIN_TYPES.by_group_kind("coordination.k8s.io", "Lease")


class LostLeadership(Exception):
    """The lease could not be renewed in time, or another holder took it."""


@dataclass(frozen=True)
class LeaderSettings:
    lease_duration: float = 15.0  # Kubernetes' default for controllers
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def default_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def micro_time(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        client: APIClient,
        name: str,
        *,
        namespace: str = "kube-system",
        identity: str = "",
        settings: LeaderSettings | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity or default_identity()
        self.settings = settings or LeaderSettings()
        self._observed_rv = ""
        self._observed_at = 0.0
        self._last_renew = 0.0

    def _spec(self, transitions: int, acquire: str | None = None) -> dict[str, Any]:
        now = micro_time()
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.settings.lease_duration)),
            "acquireTime": acquire or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    async def try_acquire_or_renew(self) -> bool:
        assert LEASES is not None
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except errors.NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(0),
            }
            try:
                await self.client.create(LEASES, body, self.namespace)
            except errors.AlreadyExists:
                return False
            self._last_renew = time.monotonic()
            return True
        rv = lease["metadata"]["resourceVersion"]
        now = time.monotonic()
        if rv != self._observed_rv:
            self._observed_rv, self._observed_at = rv, now
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        mine = holder == self.identity
        duration = float(spec.get("leaseDurationSeconds") or self.settings.lease_duration)
        if holder and not mine and now < self._observed_at + duration:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        lease["spec"] = self._spec(transitions, spec.get("acquireTime") if mine else None)
        try:
            updated = await self.client.replace(LEASES, lease, self.namespace)
        except errors.Conflict:
            return False
        self._observed_rv, self._observed_at = updated["metadata"]["resourceVersion"], now
        self._last_renew = now
        if not mine:
            log.info("%s became the leader of %s/%s", self.identity, self.namespace, self.name)
        return True

    async def acquire(self) -> None:
        """Wait until this candidate holds the lease."""
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
            except errors.APIError as exc:
                log.warning("leader election for %s: %s", self.name, exc)
            await asyncio.sleep(self.settings.retry_period)

    async def hold(self) -> None:
        """Renew forever; raises LostLeadership when renewal fails past the deadline."""
        while True:
            await asyncio.sleep(self.settings.retry_period)
            try:
                if await self.try_acquire_or_renew():
                    continue
                raise LostLeadership(f"{self.name}: another candidate holds the lease")
            except errors.APIError as exc:
                log.warning("renewing %s failed: %s", self.name, exc)
            if time.monotonic() - self._last_renew > self.settings.renew_deadline:
                raise LostLeadership(
                    f"{self.name}: could not renew within {self.settings.renew_deadline:.0f}s"
                )

    async def release(self) -> None:
        """Give the lease up (on a clean shutdown) so a successor need not wait it out."""
        assert LEASES is not None
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["leaseDurationSeconds"] = 1
            await self.client.replace(LEASES, lease, self.namespace)
        except errors.APIError:
            pass

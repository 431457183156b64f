"""Running a component's work only while it leads.

``run_as_leader`` waits for the Lease, then runs ``work`` beside the renewal
loop in one TaskGroup. If renewal fails (``LostLeadership``) the work is
cancelled and the error propagates: the process must exit and be restarted
by its supervisor, rebuilding its state from the API, rather than carry on
with caches another leader may have made stale. On a clean stop the lease
is released so that a successor takes over at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from orchestrator.client.leader import LeaderElector, LeaderSettings
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)


async def run_as_leader(client: APIClient, lease: str, work: Callable[[], Awaitable[None]], *,
                        settings: LeaderSettings | None = None, identity: str = "") -> None:
    elector = LeaderElector(client, lease, identity=identity, settings=settings)
    log.info("%s waiting to lead %s", elector.identity, lease)
    await elector.acquire()
    log.info("%s leads %s", elector.identity, lease)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(elector.hold(), name=f"{lease}-lease")
            tg.create_task(work(), name=lease)
    except asyncio.CancelledError:
        await asyncio.shield(elector.release())
        raise

"""Housekeeping the API server runs on a timer: compaction and event expiry.

Compaction keeps at least the last ``keep_revisions`` revisions so that a
watcher that reconnects within that window resumes without relisting.
Events expire ``event_ttl`` seconds after they were last seen, as
Kubernetes' ``--event-ttl`` (one hour). With several API servers on one etcd
each runs these loops; the work is idempotent, so that is only redundant.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orchestrator.api import errors
from orchestrator.api.resources import ResourceTypes
from orchestrator.api.timestamps import parse_time as _parse_time
from orchestrator.apiserver.registry import Registry, WriteOptions
from orchestrator.store.base import Store, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaintenanceSettings:
    compaction_interval: float = 300.0  # DESIGN.md: every five minutes
    keep_revisions: int = 10_000  # DESIGN.md: at least the last 10,000
    event_ttl: float = 3600.0  # DESIGN.md: events expire after one hour
    event_sweep_interval: float = 60.0


async def compact_once(store: Store, keep: int) -> int:
    """Compact history older than the last ``keep`` revisions; returns the revision compacted."""
    target = await store.current_revision() - keep
    if target > await store.compacted_revision():
        await store.compact(target)
        return target
    return 0


async def expire_events_once(registry: Registry, types: ResourceTypes, ttl: float) -> int:
    rt = types.by_group_kind("", "Event")
    if rt is None:
        return 0
    cutoff = datetime.now(UTC) - timedelta(seconds=ttl)
    items, _, _ = await registry.list(rt, "")
    expired = 0
    for ev in items:
        meta = ev["metadata"]
        seen = (
            _parse_time(ev.get("lastTimestamp"))
            or _parse_time(ev.get("eventTime"))
            or _parse_time(meta.get("creationTimestamp"))
        )
        if seen is None or seen >= cutoff:
            continue
        try:
            await registry.delete(rt, meta["namespace"], meta["name"], {}, WriteOptions())
            expired += 1
        except errors.NotFound:
            pass
    return expired


async def run_maintenance(
    store: Store, registry: Registry, types: ResourceTypes, settings: MaintenanceSettings
) -> None:
    loop = asyncio.get_running_loop()
    next_compaction = loop.time() + settings.compaction_interval
    while True:
        await asyncio.sleep(min(settings.event_sweep_interval, settings.compaction_interval))
        try:
            await expire_events_once(registry, types, settings.event_ttl)
            if loop.time() >= next_compaction:
                next_compaction = loop.time() + settings.compaction_interval
                revision = await compact_once(store, settings.keep_revisions)
                if revision:
                    log.info("compacted the store up to revision %d", revision)
        except (StoreError, errors.APIError):
            log.exception("maintenance pass failed; retrying on the next tick")

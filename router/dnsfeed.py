"""Keeping the DNS record table with the cluster: three informers, no API call per query.

Services, Endpoints and Pods are watched (list + watch, see
``orchestrator.client.informer``); each event is handed to the table, which
recomputes the one Service it concerns. Pods matter only for their
``spec.hostname``/``spec.subdomain`` (the name a headless Service gives each
endpoint). A relist after an outage reports what vanished meanwhile, so the
table converges; until the first list completes the table is empty, which is
why the server starts only after ``wait_synced`` (or its deadline).
"""

from __future__ import annotations

import asyncio
import logging

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.informer import Handler, Informer
from orchestrator.client.workers import SharedInformers
from router.dnsrecords import ClusterRecords

log = logging.getLogger(__name__)

SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")
PODS = BUILTIN_TYPES.require("", "Pod")


def feed_records(informers: SharedInformers, records: ClusterRecords) -> list[Informer]:
    """Make ``records`` follow the cluster; returns the informers (start them with the set)."""
    services = informers.informer(SERVICES)
    endpoints = informers.informer(ENDPOINTS)
    pods = informers.informer(PODS)
    services.add_handler(
        Handler(
            on_add=records.apply_service,
            on_update=lambda _old, new: records.apply_service(new),
            on_delete=records.remove_service,
        )
    )
    endpoints.add_handler(
        Handler(
            on_add=records.apply_endpoints,
            on_update=lambda _old, new: records.apply_endpoints(new),
            on_delete=records.remove_endpoints,
        )
    )
    pods.add_handler(
        Handler(
            on_add=records.apply_pod,
            on_update=lambda _old, new: records.apply_pod(new),
            on_delete=records.remove_pod,
        )
    )
    return [services, endpoints, pods]


async def wait_synced(feed: list[Informer], timeout: float) -> bool:
    """Whether every informer listed once within ``timeout`` seconds (logs when not)."""
    try:
        await asyncio.wait_for(asyncio.gather(*(i.wait_synced() for i in feed)), timeout)
    except TimeoutError:
        log.warning(
            "the API server has not answered within %.0fs: serving an empty table until it does",
            timeout,
        )
        return False
    return True

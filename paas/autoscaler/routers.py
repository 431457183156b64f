"""Reaching the routers: where they are, their counters, and their wake-up signals.

Routers publish themselves as the Endpoints of the Service
``paas-system/paas-router`` (DESIGN.md, "Serverless layer"); the port named
``metrics`` of each address is its metrics port, where the autoscaler
reads two things (a direct data path, as Knative's autoscaler scrapes its
pods and activators):

- ``GET /metrics``: Prometheus text, whose backend counters
  ``paas.autoscaler.observed`` turns into load;
- ``GET /signals``: a stream that stays open, one JSON object per line,
  ``{"namespace": ..., "service": ..., "held": N}``, sent the moment a
  request is held for a backend with no ready pod (blank lines keep it
  alive). The autoscaler then decides for that revision at once instead of
  at its next tick: a wake-up from zero waits for no poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from paas.autoscaler.observed import Backend, RouterReading, parse_reading

log = logging.getLogger(__name__)
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")
ROUTERS = ("paas-system", "paas-router")  # the Service whose Endpoints are the routers
METRICS_PORT = "metrics"


async def router_addresses(client: APIClient) -> set[str]:
    """``host:port`` of every router's metrics port, from the routers' Endpoints."""
    namespace, name = ROUTERS
    try:
        endpoints = await client.get(ENDPOINTS, name, namespace)
    except errors.NotFound:
        return set()
    found = set()
    for subset in endpoints.get("subsets") or []:
        ports = [p for p in subset.get("ports") or [] if p.get("name") == METRICS_PORT]
        for address in subset.get("addresses") or []:
            for port in ports:
                found.add(f"{address.get('ip')}:{port.get('port')}")
    return found


async def scrape(session: aiohttp.ClientSession, address: str) -> RouterReading | None:
    """One router's counters; None when it does not answer or answers nonsense."""
    try:
        async with session.get(f"http://{address}/metrics") as response:
            if response.status != 200:
                return None
            return parse_reading(await response.text())
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.debug("router %s: no metrics (%s)", address, exc)
        return None


def _signal(line: bytes) -> tuple[Backend, float] | None:
    try:
        body: Any = json.loads(line)
        return (str(body["namespace"]), str(body["service"])), float(body.get("held", 1))
    except (ValueError, KeyError, TypeError):
        return None


async def follow_signals(
    session: aiohttp.ClientSession,
    address: str,
    on_signal: Callable[[Backend, float], Awaitable[None]],
    *,
    retry: float,
) -> None:
    """Follow one router's ``/signals`` until cancelled, reconnecting after ``retry`` s."""
    while True:
        try:
            async with session.get(
                f"http://{address}/signals", timeout=aiohttp.ClientTimeout(total=None, connect=5)
            ) as response:
                if response.status == 200:
                    async for line in response.content:
                        if line.strip() and (signal := _signal(line)) is not None:
                            await on_signal(*signal)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("router %s: signals broke (%s)", address, exc)
        await asyncio.sleep(retry)

"""The API server gathers the node agents' Summaries, as metrics-server scrapes kubelets.

Each node agent serves ``GET /stats/summary`` on its own HTTPS port; the
API server reaches it through ``nodeproxy`` (the node's pinned certificate,
the API server's client certificate), all asked nodes at once, each with
``scrape_timeout``. A node that does not answer (down, a simulated node
that serves nothing, a bad body) is left out of the answer and logged: one
slow node never fails ``kubectl top`` for the others.

A node's answer is kept for ``cache_ttl`` seconds, and concurrent requests
for one node share one scrape, so that a storm of ``kubectl top`` calls (or
an HPA controller and a user at once) costs each node at most one request
per ``cache_ttl``. The node agent itself samples only every stats interval,
so a shorter cache would only re-read the same numbers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.apiserver.nodeproxy import NodeProxy, node_endpoint

log = logging.getLogger(__name__)
SUMMARY_PATH = "/stats/summary"
MAX_SUMMARY = 32 * 1024 * 1024  # bytes: ~100 KiB at 110 pods, so a runaway body is cut off


@dataclass(frozen=True)
class ScrapeSettings:
    scrape_timeout: float = 5.0  # per node, the whole request (metrics-server's default 10 s)
    cache_ttl: float = 1.0  # a node's Summary is reused this long (it samples every 10 s)


class SummaryScraper:
    """Summaries of nodes, scraped concurrently, cached briefly, one scrape per node at once."""

    def __init__(self, settings: ScrapeSettings | None = None) -> None:
        self.settings = settings or ScrapeSettings()
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._inflight: dict[str, asyncio.Task[dict[str, Any] | None]] = {}
        self.scrapes = 0  # requests made to nodes (tests: the cache holds)

    async def summaries(self, proxy: NodeProxy, nodes: list[Obj]) -> dict[str, dict[str, Any]]:
        """node name -> its Summary, for each of ``nodes`` that answered."""
        names = [metadata_of(n).get("name", "") for n in nodes]
        found = await asyncio.gather(*(self._one(proxy, node) for node in nodes))
        return {name: s for name, s in zip(names, found, strict=True) if s is not None}

    async def _one(self, proxy: NodeProxy, node: Obj) -> dict[str, Any] | None:
        name = metadata_of(node).get("name", "")
        loop = asyncio.get_running_loop()
        cached = self._cache.get(name)
        if cached is not None and loop.time() - cached[0] < self.settings.cache_ttl:
            return cached[1]
        task = self._inflight.get(name)
        if task is None:
            task = asyncio.create_task(self._scrape(proxy, node), name=f"scrape {name}")
            self._inflight[name] = task
            task.add_done_callback(lambda _t: self._inflight.pop(name, None))
        return await asyncio.shield(task)

    async def _scrape(self, proxy: NodeProxy, node: Obj) -> dict[str, Any] | None:
        name = metadata_of(node).get("name", "")
        self.scrapes += 1
        try:
            body = await asyncio.wait_for(self._read(proxy, node), self.settings.scrape_timeout)
            summary = json.loads(body)
            if not isinstance(summary, dict):
                raise ValueError("the Summary is not a JSON object")
        except errors.APIError as exc:
            log.info("node %s left out of resource metrics: %s", name, exc.message)
            summary = None
        except (TimeoutError, ValueError) as exc:
            log.warning("node %s left out of resource metrics: %s", name, exc or "timed out")
            summary = None
        self._cache[name] = (asyncio.get_running_loop().time(), summary)
        return summary

    async def _read(self, proxy: NodeProxy, node: Obj) -> bytes:
        stream = await proxy.stream(node_endpoint(node), SUMMARY_PATH, {})
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in stream:
                size += len(chunk)
                if size > MAX_SUMMARY:
                    raise ValueError(f"the Summary is larger than {MAX_SUMMARY} bytes")
                chunks.append(chunk)
        finally:
            await stream.aclose()
        return b"".join(chunks)

"""The router's metrics port: ``GET /metrics`` and the ``GET /signals`` stream.

Served apart from the HTTP entry point (``--metrics-port``), so that the
autoscaler's scrapes are never counted as app traffic nor routed, and so
that app hosts cannot reach it. With ``auth`` (``paas router`` by default)
both routes need a bearer token whose user may ``get`` the path
(``/metrics``: ``system:monitoring`` and the autoscaler's own role),
checked with the API server (``orchestrator.metrics.delegated``); 401/403
in Kubernetes' words otherwise. ``/metrics`` also carries the process's
default registry (``process_*``). aiohttp serves it: two handlers, no hot
path. What both say is the contract of ``paas.autoscaler.routers``:

- ``/metrics``: ``RouterStats.text()`` (Prometheus' text format);
- ``/signals``: one JSON object per line, ``{"namespace", "service",
  "held"}``, written the moment a request is held for a backend with no
  ready pod (or, capped per pod, no free slot), and a blank line every
  ``keepalive`` seconds. ``Signals.held`` sends the first hold of a backend
  at once, then at most one line per backend every ``interval`` seconds
  while a burst lasts (the autoscaler only needs to know that the backend
  is wanted). A subscriber that does not read loses lines beyond ``QUEUE``
  rather than growing the router's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.exposition import generate_latest

from orchestrator.metrics.delegated import DelegatedAuth, Question
from router.ingressroutes import ServiceRef
from router.metrics import RouterStats

QUEUE = 1000  # lines buffered per /signals client


class Signals:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.subscribers: set[asyncio.Queue[bytes]] = set()
        self._last: dict[tuple[str, str], float] = {}

    def held(self, ref: ServiceRef, held: int) -> None:
        key = (ref.namespace, ref.name)
        now = time.monotonic()
        if held > 1 and now - self._last.get(key, 0.0) < self.interval:
            return
        self._last[key] = now
        line = json.dumps({"namespace": ref.namespace, "service": ref.name, "held": held})
        data = line.encode() + b"\n"
        for queue in self.subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(data)


def metrics_app(
    stats: RouterStats, signals: Signals, keepalive: float, auth: DelegatedAuth | None = None
) -> web.Application:
    async def refusal(request: web.Request) -> web.Response | None:
        if auth is None:
            return None
        question = Question("get", path=request.path)
        refused = await auth.check(request.headers.get("Authorization"), question)
        if refused is None:
            return None
        return web.Response(status=refused.status, text=refused.message)

    async def metrics(request: web.Request) -> web.Response:
        if (refused := await refusal(request)) is not None:
            return refused
        return web.Response(
            body=stats.text() + generate_latest(REGISTRY),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def stream(request: web.Request) -> web.StreamResponse:
        if (refused := await refusal(request)) is not None:
            return refused
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        signals.subscribers.add(queue)
        try:
            await response.write(b"\n")  # headers out at once: the follower knows it is on
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), keepalive)
                except TimeoutError:
                    data = b"\n"
                await response.write(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            signals.subscribers.discard(queue)
        return response

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/signals", stream)
    return app


async def serve_metrics(
    stats: RouterStats,
    signals: Signals,
    host: str,
    port: int,
    keepalive: float,
    auth: DelegatedAuth | None = None,
) -> tuple[web.AppRunner, int]:
    """Start the metrics port; (the runner to clean up, the port bound)."""
    runner = web.AppRunner(
        metrics_app(stats, signals, keepalive, auth), access_log=None, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])

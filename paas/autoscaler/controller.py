"""``paas autoscaler``'s loop: observe each revision's load, decide, set its Deployment's scale.

Three tasks in one group:

- **scrape** (every ``scrape_interval``): find the routers (their
  Endpoints), read their counters, and record each backend's average
  concurrency into its time buckets (``observed``, ``window``). A router
  seen for the first time also gets its signal stream followed.
- **signals**: a router holding a request for a backend with no ready pod
  says so at once; the held requests are recorded as load and that
  revision is decided now, not at the next tick.
- **tick** (every ``tick``): every revision is decided.

A decision reads the Revision (its annotations: ``spec``), its Deployment
``<revision>-deployment`` (replicas asked and ready) and whether any Route
sends it traffic (or it is its Configuration's newest revision, not routed
yet: Knative's "pending", treated as routed so it comes up), runs the KPA
step and the bounds (``kpa``, ``zero``), and writes the Deployment's
``spec.replicas`` when it differs, with an Event on the Revision saying
why. The serving controller creates that Deployment with the initial scale
and never writes its replicas again: from then on they are this loop's.
The router's backend for a revision is the ClusterIP Service of the same
name, so the routers' counters are keyed by the revision's name.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from orchestrator.api import errors
from orchestrator.api.conditions import condition_status
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import object_key
from paas.autoscaler.kpa import KPAState, decide
from paas.autoscaler.observed import Backend, Observed, RouterReading
from paas.autoscaler.routers import follow_signals, router_addresses, scrape
from paas.autoscaler.settings import AutoscalerSettings
from paas.autoscaler.spec import scaling_spec
from paas.autoscaler.window import Buckets
from paas.autoscaler.zero import ZeroState, bound
from paas.serving.kinds import (
    CONFIGURATION_LABEL,
    CONFIGURATIONS,
    DEPLOYMENTS,
    REVISION_LABEL,
    REVISIONS,
    ROUTES,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def deployment_name(revision: str) -> str:
    return f"{revision}-deployment"


class Autoscaler:
    name = "autoscaler"

    def __init__(self, ctx: ControllerContext, settings: AutoscalerSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or AutoscalerSettings()
        informers = ctx.informers
        self.revisions = informers.informer(REVISIONS)
        self.configurations = informers.informer(CONFIGURATIONS)
        self.routes = informers.informer(ROUTES)
        self.deployments = informers.informer(DEPLOYMENTS, label_selector=REVISION_LABEL)
        self.observed = Observed()
        self._windows: dict[Backend, Buckets] = {}
        self._kpa: dict[Backend, KPAState] = {}
        self._zero: dict[Backend, ZeroState] = {}
        self._followed: dict[str, asyncio.Task[None]] = {}
        self._due: set[Backend] = set()
        self._wake = asyncio.Event()

    # -- observing -------------------------------------------------------------

    def window(self, backend: Backend) -> Buckets:
        keep = max(self.settings.stable_window, 3600.0)
        return self._windows.setdefault(backend, Buckets(self.settings.scrape_interval, keep))

    async def _scrape(self, session: aiohttp.ClientSession, group: asyncio.TaskGroup) -> None:
        addresses = await router_addresses(self.ctx.client)
        for gone in set(self._followed) - addresses:
            self._followed.pop(gone).cancel()
        for new in addresses - set(self._followed):
            self._followed[new] = group.create_task(
                follow_signals(session, new, self.signal, retry=self.settings.signal_retry)
            )
        self.observed.forget(addresses)
        answers = await asyncio.gather(*(scrape(session, a) for a in sorted(addresses)))
        readings: dict[str, RouterReading] = {
            a: r for a, r in zip(sorted(addresses), answers, strict=True) if r is not None
        }
        now = asyncio.get_running_loop().time()
        for backend, load in self.observed.take(readings, now).items():
            self.window(backend).record(now, load)

    async def signal(self, backend: Backend, held: float) -> None:
        """A router holds ``held`` requests for ``backend``: count them, decide now."""
        self.window(backend).record(asyncio.get_running_loop().time(), held)
        self._due.add(backend)
        self._wake.set()

    # -- running ---------------------------------------------------------------

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.scrape_timeout)
        token = self.ctx.client.config.token  # routers ask the API who may read their metrics
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._scraping(session, group))
                group.create_task(self._ticking())

    async def _scraping(self, session: aiohttp.ClientSession, group: asyncio.TaskGroup) -> None:
        while True:
            try:
                await self._scrape(session, group)
            except errors.APIError as exc:
                log.warning("autoscaler: cannot find the routers: %s", exc)
            await asyncio.sleep(self.settings.scrape_interval)

    async def _ticking(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_tick - loop.time()))
            except TimeoutError:
                pass
            self._wake.clear()
            if loop.time() >= next_tick:
                self._due.clear()
                keys = [_backend(r) for r in self.revisions.list()]
                next_tick = loop.time() + self.settings.tick
            else:
                keys, self._due = sorted(self._due), set()
            for backend in keys:
                try:
                    await self.decide(backend)
                except errors.APIError as exc:
                    log.warning("autoscaler: %s/%s: %s", *backend, exc)

    # -- deciding --------------------------------------------------------------

    def routed(self, revision: Obj) -> bool:
        """Whether traffic may reach ``revision``: a Route names it, or it is pending."""
        meta = revision["metadata"]
        name, namespace = meta["name"], meta.get("namespace", "")
        for route in self.routes.list():
            if route["metadata"].get("namespace") != namespace:
                continue
            for target in (route.get("status") or {}).get("traffic") or []:
                if target.get("revisionName") == name and (
                    target.get("percent") or target.get("tag")
                ):
                    return True
        config_name = (meta.get("labels") or {}).get(CONFIGURATION_LABEL, "")
        config = self.configurations.get(f"{namespace}/{config_name}")
        latest = ((config or {}).get("status") or {}).get("latestCreatedRevisionName")
        return bool(latest == name)

    async def decide(self, backend: Backend) -> None:
        """One decision for the revision ``backend`` names; writes its scale if it changes."""
        namespace, name = backend
        revision = self.revisions.get(f"{namespace}/{name}")
        if revision is None or revision["metadata"].get("deletionTimestamp"):
            for state in (self._windows, self._kpa, self._zero):
                state.pop(backend, None)
            return
        deployment = self.deployments.get(f"{namespace}/{deployment_name(name)}")
        if deployment is None:
            return
        spec = scaling_spec(revision, self.settings)
        now = asyncio.get_running_loop().time()
        window = self.window(backend)
        current = int((deployment.get("spec") or {}).get("replicas", 1))
        ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
        routed = self.routed(revision)
        decision = decide(
            self._kpa.setdefault(backend, KPAState()),
            spec,
            now=now,
            stable=window.average(now, spec.stable_window),
            panic=window.average(now, spec.panic_window),
            ready_pods=ready,
            routed=routed,
            max_scale_up_rate=self.settings.max_scale_up_rate,
            max_scale_down_rate=self.settings.max_scale_down_rate,
        )
        scale = bound(
            self._zero.setdefault(backend, ZeroState()),
            spec,
            self.settings,
            desired=decision.desired,
            current=current,
            ready_pods=ready,
            routed=routed,
            now=now,
            initialized=condition_status(revision, "Ready") == "True",
        )
        if scale.replicas == current:
            return
        meta = deployment["metadata"]
        await self.ctx.client.patch(
            DEPLOYMENTS,
            meta["name"],
            {
                "metadata": {"resourceVersion": meta["resourceVersion"]},
                "spec": {"replicas": scale.replicas},
            },
            namespace,
        )
        why = scale.message or decision.describe(spec)
        message = f"scaled from {current} to {scale.replicas} ({scale.reason}): {why}"
        log.info("revision %s: %s", object_key(revision), message)
        self.ctx.recorder.record(revision, "Normal", "Scaled", message)


def _backend(revision: Obj) -> Backend:
    meta = revision["metadata"]
    return meta.get("namespace", ""), meta["name"]

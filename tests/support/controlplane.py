"""Running controllers (and the scheduler) in-process against a test API server.

    async with controllers(api, ReplicaSetController, DeploymentController) as cp:
        await cp.client.create(...)

builds one ``ControllerContext`` (shared informers, an event recorder, an
injectable clock), constructs each controller from it, runs them with
``run_controllers`` in a background task, and cancels them on exit. Extra
keyword arguments of ``controllers`` go to the context (``clock=...``,
``workers=...``); per-controller settings are passed by giving a factory
instead of a class: ``lambda ctx: JobController(ctx, JobSettings(...))``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.client.context import ControllerContext
from orchestrator.client.events import EventRecorder
from orchestrator.client.informer import InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.controllers.base import Controller, run_controllers
from support.apiserver import RunningAPI


@dataclass
class ControlPlane:
    client: APIClient
    ctx: ControllerContext
    controllers: list[Controller]
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def controllers(
    api: RunningAPI, *factories: Callable[[ControllerContext], Any], **context: Any
) -> AsyncIterator[ControlPlane]:
    async with APIClient(api.client_config()) as client:
        ctx = ControllerContext(
            client=client,
            informers=SharedInformers(client, InformerSettings(watch_timeout=60)),
            recorder=EventRecorder(client, "test-controller-manager"),
            **context,
        )
        built = [factory(ctx) for factory in factories]
        task = asyncio.create_task(run_controllers(ctx, built))
        try:
            await asyncio.wait_for(ctx.informers.wait_synced(), 20)
            yield ControlPlane(client, ctx, built, task)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await ctx.recorder.close()

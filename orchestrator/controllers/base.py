"""What every controller is given, and how a set of them runs.

A controller is a class built from a ``ControllerContext`` (plus its own
settings dataclass): in ``__init__`` it asks ``ctx.informers`` for the
informers it reads and adds handlers that only enqueue keys; ``run()``
processes its queue until cancelled (``orchestrator.client.workers``).
Decisions live in pure functions beside it, tested with tables of cases.

``run_controllers`` starts the shared informers once every controller has
registered its own, waits until they have listed, then runs the controllers
in one TaskGroup: if any dies, all stop, and the process exits non-zero for
its supervisor to restart (everything is rebuilt from the API on start).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from orchestrator.client.events import EventRecorder
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.client.workqueue import BackoffSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ControllerContext:
    client: APIClient
    informers: SharedInformers
    recorder: EventRecorder
    clock: Callable[[], datetime] = utc_now  # injected so tests can move time (cron, grace)
    workers: int = 2  # concurrent reconciles per controller
    backoff: BackoffSettings = field(default_factory=BackoffSettings)


class Controller(Protocol):
    name: str

    async def run(self) -> None:
        """Process work until cancelled."""
        ...


async def run_controllers(ctx: ControllerContext, controllers: Sequence[Controller]) -> None:
    async with asyncio.TaskGroup() as tg:
        ctx.informers.start(tg)
        await ctx.informers.wait_synced()
        for controller in controllers:
            tg.create_task(controller.run(), name=controller.name)

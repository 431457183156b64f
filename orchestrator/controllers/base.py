"""How a controller is shaped, and how a set of them runs.

A controller is a class built from a ``ControllerContext``
(``orchestrator.client.context``, shared with the scheduler) plus its own
settings dataclass: in ``__init__`` it asks ``ctx.informers`` for the
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
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from orchestrator.api.objects import Obj
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, object_key
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.ownership import controller_of


def enqueue_self(queue: WorkQueue, *, deletes: bool = True) -> Handler:
    """A handler that enqueues the changed object's own key (on delete too, unless told)."""

    def add(obj: Obj) -> None:
        queue.add(object_key(obj))

    return Handler(
        on_add=add, on_update=lambda _old, new: add(new), on_delete=add if deletes else None
    )


def enqueue_controller(queue: WorkQueue, kind: str) -> Handler:
    """A handler that enqueues the key of the changed object's controller, if it is a ``kind``."""

    def add(obj: Obj) -> None:
        ref = controller_of(obj, kind)
        if ref is not None:
            queue.add(f"{obj['metadata']['namespace']}/{ref['name']}")

    return Handler(on_add=add, on_update=lambda _old, new: add(new), on_delete=add)


async def process_queue(
    ctx: ControllerContext,
    queue: WorkQueue,
    reconcile: Callable[[str], Awaitable[float | None]],
    name: str,
) -> None:
    """Run ``ctx.workers`` reconcilers over ``queue`` until cancelled, then shut the queue."""
    try:
        await run_workers(queue, reconcile, workers=ctx.workers, name=name)
    finally:
        queue.shutdown()


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

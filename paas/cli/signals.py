"""Run a component's work until SIGINT/SIGTERM, the way every long-running command does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("paas")


async def until_signal(work: Coroutine[Any, Any, Any]) -> bool:
    """Run ``work`` until SIGINT/SIGTERM; True if it ended by itself (a crash), logged."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.ensure_future(work)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for t in (task, stopper):
        t.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    if task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("stopped: %r", task.exception())
        return True
    return False

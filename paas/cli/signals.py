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
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            # The traceback for whoever reads the log, then one line that names every cause:
            # the supervisor shows a component's last error line in the foreground.
            log.error("crashed", exc_info=exc)
            log.error("stopped: %s", describe_failure(exc))
        return True
    return False


def describe_failure(exc: BaseException) -> str:
    """Every leaf error of ``exc`` as ``Type: message``, joined; groups are flattened."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [describe_failure(e) for e in exc.exceptions]
        return "; ".join(dict.fromkeys(leaves))  # the same cause from two tasks, once
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

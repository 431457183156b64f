"""Waiting for a condition with a deadline: the only way tests here wait.

Both helpers poll ``check`` until it returns something truthy (which they
return) and fail with ``message`` when ``timeout`` passes first. The short
pause between polls is the polling interval, not a guess at how long
something takes. A check that costs time itself (a kubectl run, an HTTP
request) is followed by a pause as long as it took, up to ``MAX_POLL``: a
long wait then spends at most half its time running checks rather than all
of it, which leaves the CPU to the tests running beside it, and it notices
the condition at most one check later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL = 0.01  # seconds between cheap checks
MAX_POLL = 0.5  # the longest pause after a slow check


def _pause(spent: float) -> float:
    return min(max(POLL, spent), MAX_POLL)


def wait_until(check: Callable[[], T], timeout: float = 10.0, message: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        began = time.monotonic()
        result = check()
        if result:
            return result
        now = time.monotonic()
        if now > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(_pause(now - began))


async def eventually(check: Callable[[], T], timeout: float = 10.0, message: str = "") -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        began = loop.time()
        result = check()
        if result:
            return result
        now = loop.time()
        if now > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        await asyncio.sleep(_pause(now - began))


async def eventually_async(
    check: Callable[[], Awaitable[T]], timeout: float = 10.0, message: str = ""
) -> T:
    """``eventually`` for a check that must itself await (an API read)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        began = loop.time()
        result = await check()
        if result:
            return result
        now = loop.time()
        if now > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        await asyncio.sleep(_pause(now - began))

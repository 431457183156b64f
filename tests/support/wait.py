"""Waiting for a condition with a deadline: the only way tests here wait.

Both helpers poll ``check`` until it returns something truthy (which they
return) and fail with ``message`` when ``timeout`` passes first. The short
pause between polls is the polling interval, not a guess at how long
something takes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL = 0.01


def wait_until(check: Callable[[], T], timeout: float = 10.0, message: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(POLL)


async def eventually(check: Callable[[], T], timeout: float = 10.0, message: str = "") -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        await asyncio.sleep(POLL)


async def eventually_async(
    check: Callable[[], Awaitable[T]], timeout: float = 10.0, message: str = ""
) -> T:
    """``eventually`` for a check that must itself await (an API read)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        await asyncio.sleep(POLL)

"""The work queue hands each key to one worker at a time and never loses an add."""

import asyncio

import pytest

from orchestrator.client.workqueue import BackoffSettings, ShutDown, WorkQueue


async def test_a_key_added_twice_is_processed_once() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert [await q.get(), await q.get()] == ["a", "b"]
    assert len(q) == 0


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    q = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # a newer change arrived while a worker held the key
    assert len(q) == 0, "the key must not go to a second worker meanwhile"
    q.done(key)
    assert await asyncio.wait_for(q.get(), 1) == "a"


async def test_failures_back_off_exponentially_and_forget_resets() -> None:
    q = WorkQueue(BackoffSettings(base=0.01, cap=0.04))
    delays = [q.add_rate_limited("k") for _ in range(4)]
    assert delays == [0.01, 0.02, 0.04, 0.04]
    q.forget("k")
    assert q.failures("k") == 0
    assert await asyncio.wait_for(q.get(), 1) == "k"


async def test_add_after_delivers_once_the_delay_passes() -> None:
    q = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("later", 0.05)
    assert await asyncio.wait_for(q.get(), 1) == "later"
    assert loop.time() - start >= 0.04


async def test_waiting_workers_wake_on_add_and_stop_on_shutdown() -> None:
    q = WorkQueue()
    getters = [asyncio.create_task(q.get()) for _ in range(2)]
    await asyncio.wait(getters, timeout=0.05)  # let both block in get()
    assert not any(t.done() for t in getters)
    q.add("x")
    done, pending = await asyncio.wait(getters, timeout=1, return_when=asyncio.FIRST_COMPLETED)
    assert [t.result() for t in done] == ["x"]
    q.shutdown()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(pending.pop(), 1)

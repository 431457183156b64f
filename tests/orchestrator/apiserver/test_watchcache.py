"""The watch hub's promises to a stream: no change skipped, bookmarks never ahead of delivery.

A client resumes a watch from the last resourceVersion it saw, event or
BOOKMARK. So a bookmark must never carry a revision while a change at or
below it is still on its way to that client, and a dropped subscriber must
not be handed changes that follow one it lost. Both broke once: a node agent
missed a pod's deletion and kept its container running for minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from support.apiserver import start_api
from support.wait import eventually

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.watch import WatchSettings
from orchestrator.apiserver.watchcache import Change, Dropped, Progress, WatchHub
from orchestrator.client.informer import Informer, InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.store.sqlite import SQLiteStore

PODS = BUILTIN_TYPES.require("", "Pod")
PREFIX = "/registry/pods/"


async def hub_over(tmp_path: Path, **kwargs: int) -> tuple[SQLiteStore, WatchHub]:
    store = await SQLiteStore(tmp_path / "state.db").open()
    hub = WatchHub(store, **kwargs)
    await hub.start()
    return store, hub


async def test_a_progress_comes_only_after_every_change_it_covers(tmp_path: Path) -> None:
    store, hub = await hub_over(tmp_path)
    seen: list[Change | Progress] = []

    async def consume() -> None:
        async for item in hub.changes(PREFIX, 0, progress_every=0.005):
            seen.append(item)
            await asyncio.sleep(0.002)  # a slow client: changes queue up behind it

    consumer = asyncio.create_task(consume())
    try:
        for i in range(200):
            key = f"/registry/pods/default/p{i % 7}" if i % 3 else f"/registry/other/x{i}"
            if await store.get(key) is None:
                await store.create(key, b"{}")
            else:
                await store.update(key, b"{}", 0)
            if i % 20 == 0:
                await asyncio.sleep(0.01)  # quiet moments: progress is due
        await eventually(
            lambda: seen and isinstance(seen[-1], Progress) and seen[-1].revision >= hub.revision,
            10,
            "a progress past the last write",
        )
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await hub.stop()
        await store.close()
    progresses = [i for i, item in enumerate(seen) if isinstance(item, Progress)]
    assert len(progresses) >= 3
    delivered: set[int] = set()
    pods_written = {e.revision for e in seen if isinstance(e, Change)}
    for item in seen:
        if isinstance(item, Change):
            delivered.add(item.revision)
            continue
        missing = {r for r in pods_written if r <= item.revision} - delivered
        assert not missing, f"Progress({item.revision}) came before changes {sorted(missing)}"


async def test_a_dropped_subscriber_gets_nothing_after_a_change_it_lost(tmp_path: Path) -> None:
    store, hub = await hub_over(tmp_path, queue_size=3)
    got: list[int] = []
    try:
        stream = hub.changes(PREFIX, 0)
        first = asyncio.ensure_future(stream.__anext__())  # subscribed, then it stalls
        await asyncio.sleep(0.05)
        for i in range(8):
            await store.create(f"/registry/pods/default/p{i}", b"{}")
        await eventually(lambda: hub.revision >= 8, 5, "the hub saw every write")
        got.append((await first).revision)
        with pytest.raises(Dropped):
            async for change in stream:
                assert isinstance(change, Change)
                got.append(change.revision)
    finally:
        await hub.stop()
        await store.close()
    assert got == list(range(1, len(got) + 1)), f"a gap in what was delivered: {got}"


async def test_an_informer_under_churn_with_short_watches_and_bookmarks_stays_exact(
    tmp_path: Path,
) -> None:
    """Watches ending every second just as a bookmark falls due (the node agent's last 60 s
    with bookmarks every 60 s), eight writers: afterwards the cache holds exactly what a
    fresh list says (before the fix, a few pods were stale in most runs)."""
    api = start_api(tmp_path / "api", watch=WatchSettings(bookmark_interval=1.0))
    try:
        async with APIClient(api.client_config()) as client:
            informer = Informer(
                client,
                PODS,
                field_selector="spec.nodeName=n1",
                settings=InformerSettings(watch_timeout=1),
            )
            task = asyncio.create_task(informer.run())
            await informer.wait_synced()
            stop = time.monotonic() + 8

            async def writer(w: int) -> None:
                n = 0
                while time.monotonic() < stop:
                    name = f"p{w}-{n}"
                    node = "n1" if n % 3 else "n2"
                    n += 1
                    pod = {
                        "metadata": {"name": name, "labels": {"v": "0"}},
                        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
                    }
                    await client.create(PODS, pod, "default")
                    for v in range(1, 1 + n % 4):
                        await client.patch(
                            PODS, name, {"metadata": {"labels": {"v": str(v)}}}, "default"
                        )
                    if n % 2:
                        await client.delete(PODS, name, "default")

            await asyncio.gather(*(writer(w) for w in range(8)))
            listed = await client.list(PODS, "default", field_selector="spec.nodeName=n1")
            want = {
                p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in listed["items"]
            }

            def cached() -> dict[str, str]:
                return {
                    o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in informer.list()
                }

            with contextlib.suppress(AssertionError):  # the assertion below says what differs
                await eventually(lambda: cached() == want, 15)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        api.stop()
    have = cached()
    stale = sorted(k for k in want if have.get(k) != want[k])
    assert not stale and set(have) == set(want), f"stale or missing: {stale[:10]}"
    assert len(want) > 100

"""The Store contract, run on every backend (see conftest.py), plus SQLite durability."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import textwrap
from collections.abc import AsyncIterator

import pytest

from orchestrator.store.base import (
    Compacted,
    Event,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    Store,
    StoreError,
    StoreUnavailable,
)
from orchestrator.store.sqlite import SQLiteStore

DEADLINE = 10.0


async def take(events: AsyncIterator[Event], count: int) -> list[Event]:
    """The next ``count`` events, failing the test if they do not come within the deadline."""
    async with asyncio.timeout(DEADLINE):
        return [await anext(events) for _ in range(count)]


async def assert_nothing_before(store: Store, events: AsyncIterator[Event], key: str) -> None:
    """Write a sentinel ``key`` and check it is the very next event (nothing unexpected came)."""
    revision = await store.create(key, b"sentinel")
    (event,) = await take(events, 1)
    assert (event.key, event.revision) == (key, revision)


# -- single keys ----------------------------------------------------------------


async def test_create_then_get_returns_value_with_create_and_mod_revisions(store, prefix):
    revision = await store.create(prefix + "a", b"one")

    assert revision > 0
    assert await store.get(prefix + "a") == KeyValue(prefix + "a", b"one", revision, revision)
    assert await store.get(prefix + "missing") is None
    assert await store.current_revision() == revision


async def test_create_of_existing_key_raises_key_exists_and_changes_nothing(store, prefix):
    revision = await store.create(prefix + "a", b"one")

    with pytest.raises(KeyExists):
        await store.create(prefix + "a", b"two")

    assert await store.get(prefix + "a") == KeyValue(prefix + "a", b"one", revision, revision)
    assert await store.current_revision() == revision


async def test_update_moves_mod_revision_and_keeps_create_revision(store, prefix):
    created = await store.create(prefix + "a", b"one")
    updated = await store.update(prefix + "a", b"two", created)

    assert updated > created
    assert await store.get(prefix + "a") == KeyValue(prefix + "a", b"two", created, updated)


async def test_update_with_stale_revision_raises_revision_mismatch_and_changes_nothing(
    store, prefix
):
    created = await store.create(prefix + "a", b"one")
    updated = await store.update(prefix + "a", b"two", created)

    with pytest.raises(RevisionMismatch):
        await store.update(prefix + "a", b"three", created)

    assert await store.get(prefix + "a") == KeyValue(prefix + "a", b"two", created, updated)
    assert await store.current_revision() == updated


async def test_update_of_missing_key_raises_key_not_found(store, prefix):
    revision = await store.create(prefix + "other", b"x")

    with pytest.raises(KeyNotFound):
        await store.update(prefix + "missing", b"v", revision)
    with pytest.raises(KeyNotFound):
        await store.update(prefix + "missing", b"v", 0)

    assert await store.get(prefix + "missing") is None
    assert await store.current_revision() == revision


async def test_delete_returns_last_value_and_the_key_is_gone(store, prefix):
    created = await store.create(prefix + "a", b"one")
    updated = await store.update(prefix + "a", b"two", created)

    revision, last = await store.delete(prefix + "a", updated)

    assert revision > updated
    assert last == KeyValue(prefix + "a", b"two", created, updated)
    assert await store.get(prefix + "a") is None
    assert await store.count(prefix) == 0
    with pytest.raises(KeyNotFound):
        await store.delete(prefix + "a")


async def test_delete_without_expected_revision_deletes_whatever_is_there(store, prefix):
    created = await store.create(prefix + "a", b"one")

    revision, last = await store.delete(prefix + "a")

    assert revision > created
    assert last == KeyValue(prefix + "a", b"one", created, created)
    assert await store.get(prefix + "a") is None


async def test_delete_with_stale_expected_revision_raises_and_keeps_the_key(store, prefix):
    created = await store.create(prefix + "a", b"one")
    updated = await store.update(prefix + "a", b"two", created)

    with pytest.raises(RevisionMismatch):
        await store.delete(prefix + "a", created)

    assert await store.get(prefix + "a") == KeyValue(prefix + "a", b"two", created, updated)
    assert await store.current_revision() == updated


async def test_revisions_strictly_increase_across_keys(store, prefix):
    revisions = [await store.create(prefix + "a", b"1")]
    revisions.append(await store.create(prefix + "b", b"1"))
    revisions.append(await store.update(prefix + "a", b"2", revisions[0]))
    revisions.append(await store.create(prefix + "c", b"1"))
    revisions.append((await store.delete(prefix + "b"))[0])
    revisions.append(await store.update(prefix + "c", b"2", revisions[3]))

    assert revisions == sorted(set(revisions))
    assert await store.current_revision() == revisions[-1]


# -- list and count -------------------------------------------------------------


async def test_list_returns_only_keys_under_the_prefix_in_key_order(store, prefix):
    # Neighbours just outside the prefix on both sides.
    await store.create(prefix[:-1], b"parent")
    await store.create(prefix[:-1] + "0", b"sibling")
    names = ["m", "a/x", "z", "a", "b/c/d", "é"]
    for name in names:
        await store.create(prefix + name, name.encode())

    result = await store.list(prefix)

    assert [kv.key for kv in result.items] == sorted(prefix + name for name in names)
    assert [kv.value for kv in result.items] == [
        kv.key[len(prefix) :].encode() for kv in result.items
    ]
    assert result.more is False
    assert result.revision == await store.current_revision()


@pytest.mark.parametrize(("total", "limit"), [(10, 3), (9, 3), (3, 5), (4, 1)])
async def test_list_paging_visits_every_key_exactly_once(store, prefix, total, limit):
    keys = [f"{prefix}{i:03d}" for i in range(total)]
    for key in reversed(keys):
        await store.create(key, b"v")

    seen: list[str] = []
    mores: list[bool] = []
    start_after = ""
    while True:
        page = await store.list(prefix, start_after=start_after, limit=limit)
        assert 0 < len(page.items) <= limit
        seen += [kv.key for kv in page.items]
        mores.append(page.more)
        if not page.more:
            break
        start_after = page.items[-1].key

    assert seen == keys
    pages = -(-total // limit)
    assert mores == [True] * (pages - 1) + [False]


async def test_list_at_a_past_revision_shows_each_key_as_it_was(store, prefix):
    a = await store.create(prefix + "a", b"a1")
    b = await store.create(prefix + "b", b"b1")
    c = await store.create(prefix + "c", b"c1")
    at = await store.current_revision()
    await store.update(prefix + "a", b"a2", a)
    await store.delete(prefix + "b", b)
    await store.create(prefix + "bb", b"new")
    await store.create(prefix + "b", b"b2")  # recreated: a different key's life

    then = await store.list(prefix, revision=at)
    page = await store.list(prefix, revision=at, start_after=prefix + "a", limit=1)

    assert [(kv.key, kv.value, kv.mod_revision) for kv in then.items] == [
        (prefix + "a", b"a1", a),
        (prefix + "b", b"b1", b),
        (prefix + "c", b"c1", c),
    ]
    assert then.revision == at
    assert ([kv.key for kv in page.items], page.more) == ([prefix + "b"], True)


async def test_list_at_a_compacted_revision_raises(store, prefix):
    old = await store.create(prefix + "a", b"v")
    latest = await store.create(prefix + "b", b"v")
    await store.compact(latest)

    with pytest.raises(Compacted):
        await store.list(prefix, revision=old)
    assert [kv.key for kv in (await store.list(prefix, revision=latest)).items] == [
        prefix + "a",
        prefix + "b",
    ]


async def test_list_after_the_last_key_is_empty(store, prefix):
    await store.create(prefix + "a", b"v")

    result = await store.list(prefix, start_after=prefix + "a", limit=10)

    assert (result.items, result.more) == ([], False)


async def test_list_with_start_after_outside_the_prefix(store, prefix):
    await store.create(prefix + "a", b"v")
    await store.create(prefix + "b", b"v")

    before = await store.list(prefix, start_after=prefix[:-1], limit=10)
    beyond = await store.list(prefix, start_after=prefix[:-1] + "1", limit=10)

    assert [kv.key for kv in before.items] == [prefix + "a", prefix + "b"]
    assert (beyond.items, beyond.more) == ([], False)


async def test_empty_prefix_means_every_key(store, prefix):
    await store.create(prefix + "a", b"v")
    await store.create(prefix + "b", b"v")

    keys = [kv.key for kv in (await store.list("")).items]

    assert {prefix + "a", prefix + "b"} <= set(keys)
    assert keys == sorted(keys)
    assert await store.count("") == len(keys)


async def test_count_counts_live_keys_under_the_prefix_only(store, prefix):
    await store.create(prefix[:-1] + "0", b"sibling")
    for name in "abcde":
        await store.create(prefix + name, b"v")
    await store.delete(prefix + "c")

    assert await store.count(prefix) == 4
    assert await store.count(prefix + "a") == 1
    assert await store.count(prefix + "nothing/") == 0


# -- watch ----------------------------------------------------------------------


async def test_watch_replays_every_change_after_the_revision_in_order_then_follows(store, prefix):
    a, b = prefix + "a", prefix + "b"
    await store.create(prefix + "before", b"not replayed")
    start = await store.current_revision()
    r1 = await store.create(a, b"a1")
    r2 = await store.update(a, b"a2", r1)
    r3 = await store.create(b, b"b1")
    r4, _ = await store.delete(a, r2)

    async with contextlib.aclosing(store.watch(prefix, start)) as events:
        replayed = await take(events, 4)
        r5 = await store.update(b, b"b2", r3)
        (live,) = await take(events, 1)
        await assert_nothing_before(store, events, prefix + "sentinel")

    assert replayed == [
        Event("PUT", a, b"a1", r1, prev_value=None, create_revision=r1),
        Event("PUT", a, b"a2", r2, prev_value=b"a1", create_revision=r1),
        Event("PUT", b, b"b1", r3, prev_value=None, create_revision=r3),
        Event("DELETE", a, b"a2", r4, prev_value=b"a2", create_revision=r1),
    ]
    assert live == Event("PUT", b, b"b2", r5, prev_value=b"b1", create_revision=r3)


async def test_watch_starts_strictly_after_the_given_revision(store, prefix):
    r1 = await store.create(prefix + "a", b"1")
    r2 = await store.create(prefix + "b", b"2")

    async with contextlib.aclosing(store.watch(prefix, r1)) as events:
        (first,) = await take(events, 1)

    assert (first.key, first.revision) == (prefix + "b", r2)


async def test_watch_sees_only_keys_under_its_prefix(store, prefix):
    start = await store.current_revision()
    await store.create(prefix + "b/1", b"other")
    r_in = await store.create(prefix + "a/1", b"mine")
    await store.create(prefix + "a0", b"sibling of a/")
    await store.create(prefix + "b/2", b"other")

    async with contextlib.aclosing(store.watch(prefix + "a/", start)) as events:
        (event,) = await take(events, 1)
        await store.create(prefix + "b/3", b"other")
        await assert_nothing_before(store, events, prefix + "a/sentinel")

    assert (event.key, event.revision) == (prefix + "a/1", r_in)


async def test_two_stores_on_one_database_see_each_others_writes(open_store, prefix):
    first, second = await open_store(), await open_store()
    start = await first.current_revision()

    async with (
        contextlib.aclosing(first.watch(prefix, start)) as first_events,
        contextlib.aclosing(second.watch(prefix, start)) as second_events,
    ):
        r1 = await first.create(prefix + "from-first", b"1")
        r2 = await second.create(prefix + "from-second", b"2")
        seen_by_first = await take(first_events, 2)
        seen_by_second = await take(second_events, 2)

    assert r2 > r1
    expected = [(prefix + "from-first", r1), (prefix + "from-second", r2)]
    assert [(e.key, e.revision) for e in seen_by_first] == expected
    assert [(e.key, e.revision) for e in seen_by_second] == expected
    assert await second.get(prefix + "from-first") == KeyValue(prefix + "from-first", b"1", r1, r1)
    with pytest.raises(RevisionMismatch):
        await second.update(prefix + "from-second", b"x", r1)


async def test_close_ends_a_pending_watch_with_store_unavailable(open_store, prefix):
    store = await open_store()
    events = store.watch(prefix, await store.current_revision())
    pending = asyncio.ensure_future(anext(events))
    await store.create(prefix + "a", b"1")
    await asyncio.wait_for(pending, DEADLINE)  # the watch is established
    waiting = asyncio.ensure_future(anext(events))

    await store.close()

    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(waiting, DEADLINE)
    await events.aclose()


# -- compaction -----------------------------------------------------------------


async def test_watch_from_a_compacted_revision_raises_compacted_and_later_ones_work(store, prefix):
    r1 = await store.create(prefix + "a", b"1")
    r2 = await store.update(prefix + "a", b"2", r1)
    r3 = await store.create(prefix + "b", b"1")

    await store.compact(r2)

    assert await store.compacted_revision() == r2
    with pytest.raises(Compacted) as raised:
        async with contextlib.aclosing(store.watch(prefix, r1)) as events:
            await take(events, 1)
    assert (raised.value.requested, raised.value.compacted) == (r1, r2)
    async with contextlib.aclosing(store.watch(prefix, r2)) as events:
        (event,) = await take(events, 1)
    assert (event.key, event.revision) == (prefix + "b", r3)
    assert await store.get(prefix + "a") == KeyValue(prefix + "a", b"2", r1, r2)


async def test_compacting_again_below_the_compacted_revision_changes_nothing(store, prefix):
    r1 = await store.create(prefix + "a", b"1")
    r2 = await store.create(prefix + "b", b"1")
    await store.compact(r2)

    await store.compact(r1)

    assert await store.compacted_revision() == r2


async def test_compacting_beyond_the_current_revision_is_refused(store, prefix):
    revision = await store.create(prefix + "a", b"1")

    with pytest.raises(StoreError):
        await store.compact(revision + 1000)

    assert await store.compacted_revision() < revision + 1000


async def test_compaction_by_another_store_is_seen(open_store, prefix):
    first, second = await open_store(), await open_store()
    revision = await first.create(prefix + "a", b"1")

    await first.compact(revision)

    assert await second.compacted_revision() == revision


# -- SQLite durability ----------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from orchestrator.store.sqlite import SQLiteStore

    async def main(path, total):
        store = await SQLiteStore(path).open()
        for i in range(total):
            await store.create(f"/durable/{i:06d}", b"value-%d" % i)
            print(f"done {i}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


async def test_sqlite_acknowledged_writes_survive_kill_9(tmp_path):
    path = tmp_path / "durable.db"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, str(path), "100000", stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        async with asyncio.timeout(DEADLINE * 3):
            for _ in range(200):  # kill it mid-stream, well after it got going
                assert (await child.stdout.readline()).startswith(b"done ")
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    output = await child.stdout.read()  # acknowledgements still in the pipe count too
    acknowledged = 200 + output.count(b"done ")
    assert child.returncode == -signal.SIGKILL

    store = await SQLiteStore(path).open()
    try:
        result = await store.list("/durable/")
    finally:
        await store.close()

    assert len(result.items) >= acknowledged
    for i in range(acknowledged):
        assert result.items[i] == KeyValue(f"/durable/{i:06d}", b"value-%d" % i, i + 1, i + 1)


async def test_concurrent_writes_fail_alone_and_each_get_their_own_revision(store, prefix):
    """Writes made at once (committed together on SQLite) succeed or fail one by one."""
    await store.create(f"{prefix}taken", b"first")
    results = await asyncio.gather(
        *(store.create(f"{prefix}k{i}", b"v") for i in range(20)),
        store.create(f"{prefix}taken", b"second"),
        store.update(f"{prefix}missing", b"v", 0),
        return_exceptions=True,
    )
    revisions, duplicate, missing = results[:20], results[20], results[21]
    assert isinstance(duplicate, KeyExists)
    assert isinstance(missing, KeyNotFound)
    assert all(isinstance(r, int) for r in revisions)
    assert len(set(revisions)) == 20
    assert (await store.get(f"{prefix}taken")).value == b"first"
    assert (await store.count(prefix)) == 21

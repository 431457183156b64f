"""Every read path of the store opens sealed values, on SQLite and on etcd.

get, list (latest and at a past revision, paged), watch (replay and live,
PUT and DELETE with their previous values) see plaintext; the backend
underneath holds only sealed bytes; keys outside the configuration pass
through untouched; compaction works on the sealed history as on any other.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from orchestrator.apiserver.encryption.config import parse_config
from orchestrator.apiserver.encryption.store import EncryptedStore
from orchestrator.store import open_store
from orchestrator.store.base import Compacted

CONFIG = {
    "apiVersion": "apiserver.config.k8s.io/v1",
    "kind": "EncryptionConfiguration",
    "resources": [
        {
            "resources": ["secrets"],
            "providers": [
                {
                    "aesgcm": {
                        "keys": [
                            {"name": "k1", "secret": "a2V5MWtleTFrZXkxa2V5MWtleTFrZXkxa2V5MWtleTE="}
                        ]
                    }
                }
            ],
        }
    ],
}
K9 = base64.b64encode(b"9" * 32).decode()
SECRETS = "/registry/core/secrets/ns/"
PLAIN = "/registry/core/configmaps/ns/"


@pytest.fixture
async def stores(store_spec, tmp_path):
    inner = await open_store(store_spec, tmp_path)
    sealed = EncryptedStore(inner, parse_config(CONFIG))
    yield sealed, inner
    await sealed.close()


async def test_every_read_path_opens_sealed_values_and_the_backend_holds_none(stores):
    store, inner = stores
    start = await store.current_revision()
    first = await store.create(SECRETS + "a", b'{"v":"a1"}')
    await store.create(SECRETS + "b", b'{"v":"b1"}')
    await store.create(PLAIN + "c", b'{"v":"c1"}')
    await store.update(SECRETS + "a", b'{"v":"a2"}', first)
    _, gone = await store.delete(SECRETS + "b")
    assert gone.value == b'{"v":"b1"}'

    got = await store.get(SECRETS + "a")
    assert got is not None and got.value == b'{"v":"a2"}' and not got.stale
    assert [kv.value for kv in (await store.list(SECRETS)).items] == [b'{"v":"a2"}']
    page = await store.list(SECRETS, limit=1, revision=first + 1)  # a and b as they were then
    assert [kv.value for kv in page.items] == [b'{"v":"a1"}'] and page.more
    rest = await store.list(SECRETS, start_after=page.items[-1].key, revision=first + 1)
    assert [kv.value for kv in rest.items] == [b'{"v":"b1"}']

    events = []
    async for event in store.watch("/registry/", start):
        events.append(event)
        if len(events) == 5:
            break
    assert [(e.type, e.value) for e in events] == [
        ("PUT", b'{"v":"a1"}'),
        ("PUT", b'{"v":"b1"}'),
        ("PUT", b'{"v":"c1"}'),
        ("PUT", b'{"v":"a2"}'),
        ("DELETE", b'{"v":"b1"}'),
    ]
    assert events[3].prev_value == b'{"v":"a1"}'

    raw = await inner.get(SECRETS + "a")
    assert raw is not None and raw.value.startswith(b"k8s:enc:aesgcm:v1:k1:")
    unsealed = await inner.get(PLAIN + "c")
    assert unsealed is not None and unsealed.value == b'{"v":"c1"}'
    async for event in inner.watch(SECRETS, start):
        assert event.value.startswith(b"k8s:enc:")
        if event.type == "DELETE":
            break


async def test_a_live_watch_opens_new_writes_and_compaction_still_answers_compacted(stores):
    store, _ = stores
    start = await store.current_revision()
    received: asyncio.Queue = asyncio.Queue()

    async def follow() -> None:
        async for event in store.watch(SECRETS, start):
            received.put_nowait(event)

    task = asyncio.create_task(follow())
    try:
        revision = await store.create(SECRETS + "live", b'{"v":"live"}')
        event = await asyncio.wait_for(received.get(), 10)
        assert event.value == b'{"v":"live"}' and event.revision == revision
    finally:
        task.cancel()
    await store.update(SECRETS + "live", b'{"v":"again"}', revision)
    await store.compact(revision)
    with pytest.raises(Compacted):
        async for _ in store.watch(SECRETS, start):
            break
    assert (await store.get(SECRETS + "live")).value == b'{"v":"again"}'


async def test_a_watch_leaves_out_an_event_no_key_opens_and_goes_on(stores):
    store, inner = stores
    start = await store.current_revision()
    other = EncryptedStore(
        inner,
        parse_config(
            {
                **CONFIG,
                "resources": [
                    {
                        "resources": ["secrets"],
                        "providers": [
                            {
                                "aesgcm": {
                                    "keys": [
                                        {
                                            "name": "k9",
                                            "secret": K9,
                                        }
                                    ]
                                }
                            }
                        ],
                    }
                ],
            }
        ),
    )
    await other.create(SECRETS + "foreign", b'{"v":"k9"}')  # another server's key
    after = await store.create(SECRETS + "ours", b'{"v":"ours"}')
    async for event in store.watch(SECRETS, start):
        assert (event.key, event.value, event.revision) == (
            SECRETS + "ours",
            b'{"v":"ours"}',
            after,
        )
        break

"""The store suite runs once per backend: SQLite in ``tmp_path`` and the session's etcd.

The etcd is shared by the whole session and never wiped, so every test works
under its own random key ``prefix`` and reads revisions it captured itself
rather than assuming a fresh counter. ``open_store`` opens further stores on
the same database (a second API server) and closes them all at teardown.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from orchestrator.store.base import Store
from orchestrator.store.etcd import EtcdStore
from orchestrator.store.sqlite import SQLiteStore

OpenStore = Callable[[], Awaitable[Store]]


@dataclass(frozen=True)
class BackendTarget:
    name: str
    location: str  # SQLite file path or etcd endpoint


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def backend(request: pytest.FixtureRequest, tmp_path) -> BackendTarget:
    if request.param == "etcd":
        return BackendTarget("etcd", request.getfixturevalue("etcd_endpoint"))
    return BackendTarget("sqlite", str(tmp_path / "store.db"))


@pytest.fixture
async def open_store(backend: BackendTarget) -> AsyncIterator[OpenStore]:
    opened: list[Store] = []

    async def open_one() -> Store:
        store: Store
        if backend.name == "etcd":
            store = await EtcdStore(backend.location).open()
        else:
            store = await SQLiteStore(backend.location).open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    return await open_store()


@pytest.fixture
def prefix() -> str:
    return f"/test/{uuid.uuid4().hex}/"

"""The store's latency and object counts, as Kubernetes' API server reports etcd's.

``MeasuredStore`` wraps whichever backend ``open_store`` opened (SQLite or
etcd: the figure is the store's latency either way, so both report
``etcd_request_duration_seconds{operation,type}``, Kubernetes' name) and
times every call; ``type`` is the resource of the key (``pods``,
``deployments.apps``), read from ``/registry/<group>/<plural>/...``. A call
that fails is timed too. Watches are not timed: they last as long as the
watcher.

``count_storage_objects`` sets ``apiserver_storage_objects{resource}`` for
every served kind on a timer (Kubernetes counts once a minute), one
``count`` per kind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from orchestrator.api.resources import ResourceTypes
from orchestrator.apiserver.metrics import BUCKETS, STORAGE_OBJECTS, Durations, storage_resource
from orchestrator.store.base import Event, KeyValue, ListResult, Store, StoreError

log = logging.getLogger(__name__)

STORE_DURATION = Durations(
    "etcd_request_duration_seconds",
    "Etcd request latency in seconds for each operation and object type.",
    ("operation", "type"),
    BUCKETS,
)


def key_type(key: str) -> str:
    """``/registry/apps/deployments/ns/x`` -> ``deployments.apps``; core kinds bare."""
    parts = key.split("/", 4)
    if len(parts) < 4 or parts[1] != "registry":
        return "other"
    group, plural = parts[2], parts[3]
    return plural if group == "core" else f"{plural}.{group}"


class MeasuredStore:
    """``inner`` with each call's latency observed (module docstring)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def _observe(self, operation: str, key: str, started: float) -> None:
        STORE_DURATION.observe((operation, key_type(key)), time.perf_counter() - started)

    async def get(self, key: str) -> KeyValue | None:
        started = time.perf_counter()
        try:
            return await self.inner.get(key)
        finally:
            self._observe("get", key, started)

    async def list(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> ListResult:
        started = time.perf_counter()
        try:
            return await self.inner.list(
                prefix, start_after=start_after, limit=limit, revision=revision
            )
        finally:
            self._observe("list", prefix, started)

    async def count(self, prefix: str) -> int:
        started = time.perf_counter()
        try:
            return await self.inner.count(prefix)
        finally:
            self._observe("count", prefix, started)

    async def create(self, key: str, value: bytes) -> int:
        started = time.perf_counter()
        try:
            return await self.inner.create(key, value)
        finally:
            self._observe("create", key, started)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        started = time.perf_counter()
        try:
            return await self.inner.update(key, value, expected_revision)
        finally:
            self._observe("update", key, started)

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        started = time.perf_counter()
        try:
            return await self.inner.delete(key, expected_revision)
        finally:
            self._observe("delete", key, started)

    def current_revision(self) -> Any:
        return self.inner.current_revision()

    def compacted_revision(self) -> Any:
        return self.inner.compacted_revision()

    async def compact(self, revision: int) -> None:
        started = time.perf_counter()
        try:
            await self.inner.compact(revision)
        finally:
            self._observe("compact", "/registry/", started)

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        return self.inner.watch(prefix, from_revision)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:  # what a backend offers beyond the protocol
        return getattr(self.inner, name)


async def count_once(store: Store, types: ResourceTypes) -> None:
    """Set apiserver_storage_objects for every kind ``types`` serves."""
    seen: set[str] = set()
    for rt in types:
        resource = storage_resource(rt)
        if resource not in seen:  # a kind served at several versions is stored once
            seen.add(resource)
            STORAGE_OBJECTS.labels(resource).set(await store.count(rt.storage_prefix("")))


async def count_storage_objects(
    store: Store, types: ResourceTypes, interval: float, current: Any = None
) -> None:
    """Forever: count every ``interval`` seconds; ``current()`` gives the served kinds now."""
    while True:
        try:
            await count_once(store, current() if current is not None else types)
        except StoreError as exc:
            log.warning("counting stored objects failed: %s", exc)
        await asyncio.sleep(interval)

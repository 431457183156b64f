"""A value read through an old key (or in plaintext) is rewritten by an unchanged update.

Without this ``kubectl get secrets -A -o json | kubectl replace -f -`` would
rewrite nothing after a rotation: the registry skips writes that change
nothing, so it must know the stored form is stale. Run on a real SQLite store
through the registry, with no HTTP in between.
"""

from __future__ import annotations

from pathlib import Path

from encryptionfiles import write_config

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.allocators import Allocators, AllocatorSettings
from orchestrator.apiserver.encryption.config import load_config
from orchestrator.apiserver.encryption.store import EncryptedStore
from orchestrator.apiserver.registry import Registry, WriteOptions
from orchestrator.apiserver.server import bootstrap
from orchestrator.store.sqlite import SQLiteStore

SECRET = BUILTIN_TYPES.by_group_kind("", "Secret")
KEY = "/registry/core/secrets/default/db"


async def open_registry(db: Path, config: Path | None) -> tuple[Registry, SQLiteStore]:
    raw = await SQLiteStore(db).open()
    store = raw if config is None else EncryptedStore(raw, load_config(config))
    registry = Registry(store, Allocators(store, AllocatorSettings()))
    await bootstrap(registry, BUILTIN_TYPES)
    return registry, raw


async def test_an_unchanged_update_rewrites_a_value_sealed_with_an_old_key(tmp_path):
    assert SECRET is not None
    db = tmp_path / "state.db"
    registry, raw = await open_registry(db, write_config(tmp_path / "a.yaml", "k1"))
    body = {"metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}}
    await registry.create(SECRET, "default", body, WriteOptions())
    await raw.close()

    registry, raw = await open_registry(db, write_config(tmp_path / "b.yaml", "k2", "k1"))
    try:
        current = await registry.get(SECRET, "default", "db")
        before = current["metadata"]["resourceVersion"]
        result = await registry.update(SECRET, "default", "db", current, WriteOptions())
        assert result.obj["metadata"]["resourceVersion"] != before  # written, not skipped
        stored = await raw.get(KEY)
        assert stored is not None and stored.value.startswith(b"k8s:enc:aesgcm:v1:k2:")

        # Now current: the same unchanged update is the usual no-op.
        again = await registry.update(SECRET, "default", "db", result.obj, WriteOptions())
        assert again.obj["metadata"]["resourceVersion"] == result.obj["metadata"]["resourceVersion"]
    finally:
        await raw.close()


async def test_an_unchanged_update_encrypts_a_secret_stored_in_plaintext(tmp_path):
    assert SECRET is not None
    db = tmp_path / "state.db"
    registry, raw = await open_registry(db, None)
    body = {"metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}}
    await registry.create(SECRET, "default", body, WriteOptions())
    await raw.close()

    registry, raw = await open_registry(db, write_config(tmp_path / "a.yaml", "k1"))
    try:
        current = await registry.get(SECRET, "default", "db")
        await registry.update(SECRET, "default", "db", current, WriteOptions())
        stored = await raw.get(KEY)
        assert stored is not None and stored.value.startswith(b"k8s:enc:aesgcm:v1:k1:")
        assert (await registry.get(SECRET, "default", "db"))["data"] == body["data"]
    finally:
        await raw.close()

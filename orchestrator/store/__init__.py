"""Storage backends behind one protocol (``base.Store``): SQLite and etcd."""

from __future__ import annotations

from pathlib import Path

from orchestrator.store.base import Store


async def open_store(spec: str, data_dir: Path) -> Store:
    """Open the store ``spec`` names: ``sqlite`` (in ``data_dir``) or ``etcd://h:p[,h:p...]``."""
    if spec in ("", "sqlite"):
        from orchestrator.store.sqlite import SQLiteStore

        return await SQLiteStore(data_dir / "state.db").open()
    if spec.startswith("sqlite://"):
        from orchestrator.store.sqlite import SQLiteStore

        return await SQLiteStore(spec.removeprefix("sqlite://")).open()
    if spec.startswith("etcd://"):
        from orchestrator.store.etcd import EtcdStore

        endpoints = [e for e in spec.removeprefix("etcd://").split(",") if e]
        return await EtcdStore(endpoints).open()
    raise ValueError(
        f"--store must be sqlite, sqlite://PATH or etcd://HOST:PORT[,...], not {spec!r}"
    )

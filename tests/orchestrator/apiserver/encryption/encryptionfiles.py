"""Encryption configurations for tests, and the store's raw bytes to look for plaintext in."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path

KEYS = {
    name: base64.b64encode(name.encode() * (32 // len(name))).decode()
    for name in ("k1", "k2", "k3")
}


def write_config(
    path: Path, *keys: str, identity: bool = True, secrets: dict[str, str] | None = None
) -> Path:
    """An EncryptionConfiguration for Secrets: aesgcm with ``keys`` in order, then identity.

    ``secrets`` gives a key name another (base64) secret than the usual one.
    """
    lines = [
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "- resources: [secrets]",
        "  providers:",
        "  - aesgcm:",
        "      keys:",
    ]
    for name in keys:
        secret = (secrets or {}).get(name, KEYS[name])
        lines += [f"      - name: {name}", f"        secret: {secret}"]
    if identity:
        lines.append("  - identity: {}")
    path.write_text("\n".join(lines) + "\n")
    return path


def sqlite_files(data_dir: Path) -> bytes:
    """Every byte of the SQLite database: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("state.db*")) if p.is_file())


def sqlite_value(data_dir: Path, key: str) -> bytes:
    """The stored (current) value of ``key`` in the ``kv`` table."""
    with sqlite3.connect(data_dir / "state.db") as db:
        row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return bytes(row[0])


def sqlite_log_values(data_dir: Path, key: str) -> list[bytes]:
    with sqlite3.connect(data_dir / "state.db") as db:
        rows = db.execute("SELECT value FROM log WHERE key = ? ORDER BY revision", (key,))
        return [bytes(r[0]) for r in rows]


def etcd_value(endpoint: str, key: str) -> bytes:
    import aetcd

    async def read() -> bytes:
        host, port = endpoint.rsplit(":", 1)
        async with aetcd.Client(host=host, port=int(port)) as client:
            got = await client.get(key.encode())
            assert got is not None, key
            return bytes(got.value)

    return asyncio.run(read())


def stored_value(store: str, data_dir: Path, key: str) -> bytes:
    if store.startswith("etcd://"):
        return etcd_value(store.removeprefix("etcd://"), key)
    return sqlite_value(data_dir, key)

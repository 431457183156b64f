"""The data dir's files are private: a local user who is not root reads none of them.

Each test makes the files with the code ``paas up`` uses (``ensure_credentials``,
the components' kubeconfigs, the SQLite store) in a directory whose parent any user
may enter, then runs a reader as ``nobody`` (``setpriv``; the tests run as root)
that tries to open them. A world-readable control file beside them proves the
reader could open what is not protected. The race test writes keys, tokens and
kubeconfigs 500 times while ``nobody`` keeps opening whatever it sees appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.asnobody import NOBODY, opened_as_nobody, require_switching_users

from orchestrator import pki
from orchestrator.apiserver.auth import add_token
from orchestrator.client.config import write_kubeconfig
from orchestrator.store.sqlite import SQLiteStore
from paas.up.datadir import COMPONENT_USERS, NODE, ensure_credentials, write_component_kubeconfigs
from paas.up.settings import UpSettings

# Opens every file it sees appear in a directory until the file STOP exists; prints
# the private ones it opened and how many opens it tried.
KEEP_READING = """
import json, os, sys
folder, control = sys.argv[1], sys.argv[2]
opened, tries = set(), 0
while not os.path.exists(os.path.join(folder, "STOP")):
    for name in os.listdir(folder):
        if name.endswith(".crt") or name in ("STOP", control):
            continue  # certificates are public
        tries += 1
        try:
            with open(os.path.join(folder, name), "rb") as f:
                f.read(1)
        except OSError:
            continue
        opened.add(name)
print(json.dumps({"opened": sorted(opened), "tries": tries}))
"""


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A directory every user may enter (as ``~`` is), so only our own modes protect."""
    require_switching_users()
    parent = Path(tempfile.mkdtemp(prefix="paas-modes-", dir="/tmp"))
    parent.chmod(0o755)
    control = parent / "control.txt"
    control.write_text("anyone may read this\n")
    control.chmod(0o644)
    try:
        yield parent
    finally:
        shutil.rmtree(parent)


def data_dir_like_paas_up(data_dir: Path) -> sqlite3.Connection:
    """The files of a ``paas up`` data dir, made by the code paths ``paas up`` takes.

    Returns a connection that keeps the store's ``-wal`` and ``-shm`` files there, as a
    running API server does (the last connection to close removes them).
    """
    credentials = ensure_credentials(UpSettings(data_dir=data_dir))
    ca = (data_dir / "ca.crt").read_bytes()
    write_kubeconfig(data_dir / "kubeconfig", server="https://127.0.0.1:1", token="t", ca_pem=ca)
    write_component_kubeconfigs(credentials, "https://127.0.0.1:1", ca)

    async def store() -> None:
        db = await SQLiteStore(data_dir / "state.db").open()
        try:
            await db.create("/registry/secrets/default/s", b'{"data": {"password": "c2VjcmV0"}}')
        finally:
            await db.close()

    asyncio.run(store())
    pki.ensure_private_dir(data_dir / "node")  # paas node's and paas builder's own data dirs
    pki.ensure_private_dir(data_dir / "builder")
    pki.ensure_self_signed_cert(data_dir / "node" / "pki", "kubelet", ["127.0.0.1"])
    reader = sqlite3.connect(data_dir / "state.db")
    reader.execute("SELECT count(*) FROM kv").fetchall()
    return reader


def every_file(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_nobody_reads_no_file_of_a_fresh_data_dir(open_parent: Path) -> None:
    data_dir = open_parent / "paas"
    with contextlib.closing(data_dir_like_paas_up(data_dir)):
        files = every_file(data_dir)
        refused = opened_as_nobody(files)
    assert {"ca.key", "tokens.json", "state.db", "state.db-wal", "kubeconfig"} <= {
        p.name for p in files
    }
    assert opened_as_nobody([open_parent / "control.txt"]) == [str(open_parent / "control.txt")]
    assert refused == []
    for folder in (data_dir, data_dir / "identities", data_dir / "node", data_dir / "builder"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_keys_tokens_kubeconfigs_and_the_store_are_0600_even_in_an_open_directory(
    open_parent: Path,
) -> None:
    data_dir = open_parent / "paas"
    store = data_dir_like_paas_up(data_dir)
    data_dir.chmod(0o755)  # a user who opened the data dir still reads none of the secrets
    (data_dir / "identities").chmod(0o755)
    (data_dir / "tls").chmod(0o755)
    secrets = [
        data_dir / "ca.key",
        data_dir / "tls" / "apiserver.key",
        data_dir / "tls" / "apiserver-kubelet-client.key",
        data_dir / "admin.token",
        data_dir / "node.token",
        data_dir / "tokens.json",
        data_dir / "kubeconfig",
        data_dir / "state.db",
        data_dir / "state.db-wal",
        data_dir / "state.db-shm",
        *(data_dir / "identities" / f"{c}.token" for c in COMPONENT_USERS),
        *(data_dir / "identities" / f"{c}.kubeconfig" for c in [*COMPONENT_USERS, NODE]),
    ]
    with contextlib.closing(store):
        modes = {str(path): stat.S_IMODE(path.stat().st_mode) for path in secrets}
        opened = opened_as_nobody(secrets)
    assert set(modes.values()) == {0o600}, modes
    assert opened == []


def test_an_older_world_readable_store_is_narrowed_when_opened(open_parent: Path) -> None:
    path = open_parent / "state.db"

    async def write(value: bytes) -> None:
        db = await SQLiteStore(path).open()
        try:
            await db.create(f"/registry/secrets/default/{len(value)}", value)
        finally:
            await db.close()

    asyncio.run(write(b"old"))
    path.chmod(0o644)  # as versions before this one left it
    asyncio.run(write(b"new secret"))
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in open_parent.glob("state.db*")}
    assert modes and set(modes.values()) == {0o600}, modes


def test_nobody_never_opens_a_key_or_token_while_they_are_written_500_times(
    open_parent: Path,
) -> None:
    folder = open_parent / "churn"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # only each file's own mode protects it here
    reader = subprocess.Popen(
        [*NOBODY, "-c", KEEP_READING, str(folder), "control.txt"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for i in range(500):
            for kept in ("ca.crt", "ca.key", "admin.token", "tokens.json"):
                (folder / kept).unlink(missing_ok=True)
            pki.ensure_ca(folder)  # the CA's key, as paas up makes it
            token = add_token(folder / "tokens.json", user=f"user-{i}")
            pki.write_private(folder / "admin.token", token + "\n")
            write_kubeconfig(
                folder / "kubeconfig", server="https://127.0.0.1:1", token=token, ca_pem=b""
            )
    finally:
        (folder / "STOP").touch()
        out, _ = reader.communicate(timeout=60)
    said = json.loads(out)
    assert said["tries"] > 500, said  # it was looking while the files came and went
    assert said["opened"] == [], said

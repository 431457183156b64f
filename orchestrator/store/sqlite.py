"""SQLite store: the embedded default, kine's model on one file.

Two tables, written in one transaction per change:

- ``log``: append-only, ``revision INTEGER PRIMARY KEY AUTOINCREMENT`` is the
  global revision counter; each row is one PUT or DELETE with the value after
  (or, for DELETE, the last value) and the value before. Watches replay it.
- ``kv``: the current value of each live key, so that get and list never scan
  history.

``compact(rev)`` deletes log rows at or below ``rev`` and records ``rev`` in
``meta``; a watch from at or below it raises ``Compacted``.

A list at a past revision R (the later pages of a paged list) is rebuilt from
the two tables: ``kv`` rows not changed since R, plus, for each key changed
after R, the value before its first change after R (``prev_value``, with
``prev_revision``, the mod revision it had). That needs the log after R only,
which compaction keeps as long as R is not compacted; a compacted R raises
``Compacted``. Logs written before ``prev_revision`` existed fall back to the
key's last logged revision at or before R.

Durability: WAL with ``synchronous=FULL``, so a write acknowledged to a client
survives ``kill -9`` of the process (and a power cut). Group commit keeps
that affordable: writes that arrive while a commit is in flight wait for the
next one and share its transaction and its fsync, each inside a SAVEPOINT
so that one write's failure (a stale revision) undoes only itself. One connection is used
from a single worker thread, so calls are serialised in submission order; the
database is also safe to open from another process (SQLite's own locking).

Reads of one key run on the event loop's own thread, over a second
connection: a primary-key lookup takes microseconds, far less than handing it
to the worker thread and back. In WAL mode a reader never waits for the
writer and sees every transaction committed before it started, so a get
after an acknowledged write sees that write. Should SQLite ever answer busy,
the read goes to the worker thread as all others do (lists, which may be
long, always do).

Watching: a ``watch`` tails ``log`` by revision. It wakes on writes made
through this process at once, and polls every ``poll_interval`` for writes
made by another process on the same file.

Privacy: the file holds every Secret (and, until compaction, every old
value in ``log``), so it is created 0600 before SQLite opens it; SQLite
gives the ``-wal`` and ``-shm`` files it makes the database file's mode.
A file left by an older version with wider modes is narrowed on open.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.store.base import (
    Compacted,
    Event,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    StoreError,
    StoreUnavailable,
    prefix_end,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    value BLOB NOT NULL,
    prev_value BLOB,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER
);
CREATE INDEX IF NOT EXISTS log_key ON log (key, revision);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_WATCH_BATCH = 1000


def _prefix_bound(prefix: str) -> tuple[str, tuple[str, ...]]:
    """The SQL upper bound for keys under ``prefix`` and its argument; none for ""."""
    if not prefix:
        return "", ()
    return " AND key < ?", (prefix_end(prefix),)


def make_private(path: str) -> None:
    """Create the database file 0600 (from its first byte), or narrow an existing one's mode.

    ``:memory:`` and URI names are left to SQLite: there is no file of ours to guard.
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, 0o600)


class SQLiteStore:
    """A Store over one SQLite file (see the module docstring)."""

    def __init__(self, path: str | Path, *, poll_interval: float = 0.2) -> None:
        self._path = str(path)
        self._poll_interval = poll_interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None  # the event loop's, for get
        self._written = asyncio.Event()
        self._closed = False
        self._batch: builtins.list[
            tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]
        ] = []
        self._committer: asyncio.Task[None] | None = None

    async def open(self) -> SQLiteStore:
        await self._run(self._open_sync)
        return self

    def _open_sync(self) -> None:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        make_private(self._path)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(log)")}
        if "prev_revision" not in columns:  # a file from before lists at a revision
            conn.execute("ALTER TABLE log ADD COLUMN prev_revision INTEGER")
        self._conn = conn
        # busy_timeout 0: a busy reader must not stall the event loop; get falls back instead.
        reader = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        reader.execute("PRAGMA busy_timeout=0")
        self._reader = reader

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreUnavailable("store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite {self._path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite {self._path}: {exc}") from exc

    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None, "SQLiteStore.open() was not awaited"
        return self._conn

    def _notify(self) -> None:
        self._written.set()
        self._written = asyncio.Event()

    # -- reads ---------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        if self._closed:
            raise StoreUnavailable("store is closed")
        reader = self._reader
        if reader is not None:
            try:
                return self._get_sync(key, reader)
            except sqlite3.Error:
                pass  # busy (or worse): the worker thread waits, or reports it
        return await self._run(self._get_sync, key)

    def _get_sync(self, key: str, db: sqlite3.Connection | None = None) -> KeyValue | None:
        row = (
            (db or self._db())
            .execute(
                "SELECT key, value, create_revision, mod_revision FROM kv WHERE key = ?", (key,)
            )
            .fetchone()
        )
        return KeyValue(*row) if row else None

    async def list(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> ListResult:
        if revision:
            return await self._run(self._list_at_sync, prefix, start_after, limit, revision)
        return await self._run(self._list_sync, prefix, start_after, limit)

    def _list_at_sync(self, prefix: str, start_after: str, limit: int, revision: int) -> ListResult:
        """The keys under ``prefix`` as they were at ``revision`` (see the module docstring)."""
        db = self._db()
        db.execute("BEGIN")
        try:
            compacted = self._compacted_sync()
            if revision < compacted:
                raise Compacted(revision, compacted)
            latest = self._revision_sync()
            if revision > latest:
                raise StoreError(f"revision {revision} is in the future (latest: {latest})")
            low = max(prefix, start_after + "\x00") if start_after else prefix
            bound, bound_args = _prefix_bound(prefix)
            sql = (
                "SELECT key, value, create_revision, mod_revision FROM kv"
                f" WHERE key >= ?{bound} AND mod_revision <= ? ORDER BY key"
            )
            args: tuple[Any, ...] = (low, *bound_args, revision)
            if limit > 0:
                sql += " LIMIT ?"
                args += (limit + 1,)
            rows = [KeyValue(*r) for r in db.execute(sql, args).fetchall()]
            # Only keys up to the last unchanged one kept can make the page: a bound that
            # lets the (key, revision) index read one page's range of the log, not all of it.
            changed_sql = (
                "SELECT key, prev_value, create_revision, prev_revision, MIN(revision) FROM log"
                f" WHERE key >= ?{bound} AND revision > ?"
            )
            changed_args: tuple[Any, ...] = (low, *bound_args, revision)
            if limit > 0 and len(rows) > limit:
                changed_sql += " AND key <= ?"
                changed_args += (rows[-1].key,)
            # SQLite takes a bare column's values from the row MIN() picked.
            changed = db.execute(changed_sql + " GROUP BY key", changed_args).fetchall()
            for key, prev_value, create_revision, prev_revision, _ in changed:
                if prev_value is None:  # created after the revision: not there then
                    continue
                mod = prev_revision or self._last_logged_sync(key, revision) or create_revision
                rows.append(KeyValue(key, prev_value, create_revision, mod))
        finally:
            db.execute("COMMIT")
        rows.sort(key=lambda kv: kv.key)
        more = limit > 0 and len(rows) > limit
        return ListResult(items=rows[:limit] if more else rows, revision=revision, more=more)

    def _last_logged_sync(self, key: str, revision: int) -> int:
        sql = "SELECT MAX(revision) FROM log WHERE key = ? AND revision <= ?"
        row = self._db().execute(sql, (key, revision)).fetchone()
        return int(row[0] or 0)

    def _list_sync(self, prefix: str, start_after: str, limit: int) -> ListResult:
        db = self._db()
        db.execute("BEGIN")
        try:
            revision = self._revision_sync()
            low = max(prefix, start_after + "\x00") if start_after else prefix
            bound, bound_args = _prefix_bound(prefix)
            sql = (
                "SELECT key, value, create_revision, mod_revision FROM kv"
                f" WHERE key >= ?{bound} ORDER BY key"
            )
            args: tuple[Any, ...] = (low, *bound_args)
            if limit > 0:
                sql += " LIMIT ?"
                args += (limit + 1,)
            rows = db.execute(sql, args).fetchall()
        finally:
            db.execute("COMMIT")
        more = limit > 0 and len(rows) > limit
        items = [KeyValue(*r) for r in (rows[:limit] if more else rows)]
        return ListResult(items=items, revision=revision, more=more)

    async def count(self, prefix: str) -> int:
        return await self._run(self._count_sync, prefix)

    def _count_sync(self, prefix: str) -> int:
        bound, args = _prefix_bound(prefix)
        sql = f"SELECT COUNT(*) FROM kv WHERE key >= ?{bound}"
        row = self._db().execute(sql, (prefix, *args)).fetchone()
        return int(row[0])

    async def current_revision(self) -> int:
        return await self._run(self._revision_sync)

    def _revision_sync(self) -> int:
        row = self._db().execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
        return int(row[0]) if row else 0

    async def compacted_revision(self) -> int:
        return await self._run(self._compacted_sync)

    def _compacted_sync(self) -> int:
        row = self._db().execute("SELECT value FROM meta WHERE name = 'compacted'").fetchone()
        return int(row[0]) if row else 0

    # -- writes --------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        return int(await self._write(self._create_op, key, value))

    def _create_op(self, db: sqlite3.Connection, key: str, value: bytes) -> int:
        if db.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone():
            raise KeyExists(key)
        revision = self._append(db, key, "PUT", value, None, 0)
        db.execute("UPDATE log SET create_revision = ? WHERE revision = ?", (revision, revision))
        db.execute("INSERT INTO kv VALUES (?, ?, ?, ?)", (key, value, revision, revision))
        return revision

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        return int(await self._write(self._update_op, key, value, expected_revision))

    def _update_op(
        self, db: sqlite3.Connection, key: str, value: bytes, expected_revision: int
    ) -> int:
        prev, create_revision, mod_revision = self._current_for_write(db, key, expected_revision)
        revision = self._append(db, key, "PUT", value, prev, create_revision, mod_revision)
        db.execute(
            "UPDATE kv SET value = ?, mod_revision = ? WHERE key = ?", (value, revision, key)
        )
        return revision

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        result: tuple[int, KeyValue] = await self._write(self._delete_op, key, expected_revision)
        return result

    def _delete_op(
        self, db: sqlite3.Connection, key: str, expected_revision: int
    ) -> tuple[int, KeyValue]:
        prev, create_revision, mod_revision = self._current_for_write(db, key, expected_revision)
        revision = self._append(db, key, "DELETE", prev, prev, create_revision, mod_revision)
        db.execute("DELETE FROM kv WHERE key = ?", (key,))
        return revision, KeyValue(key, prev, create_revision, mod_revision)

    # -- group commit ----------------------------------------------------------

    async def _write(self, op: Callable[..., Any], *args: Any) -> Any:
        """Run a write in the next committed batch; its result, or its StoreError."""
        if self._closed:
            raise StoreUnavailable("store is closed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._batch.append((op, args, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_batches())
        return await done

    async def _commit_batches(self) -> None:
        """Commit whatever has queued, batch after batch, until nothing is waiting."""
        loop = asyncio.get_running_loop()
        while self._batch:
            batch, self._batch = self._batch, []
            try:
                outcomes = await loop.run_in_executor(
                    self._executor, self._commit_sync, [(op, args) for op, args, _ in batch]
                )
            except sqlite3.Error as exc:
                failure = StoreUnavailable(f"sqlite {self._path}: {exc}")
                outcomes = [failure] * len(batch)
            for (_, _, done), outcome in zip(batch, outcomes, strict=True):
                if done.done():
                    continue
                if isinstance(outcome, BaseException):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)
            self._notify()

    def _commit_sync(
        self, ops: builtins.list[tuple[Callable[..., Any], tuple[Any, ...]]]
    ) -> builtins.list[Any]:
        """All ``ops`` in one transaction (one fsync); each in a savepoint of its own."""
        outcomes: builtins.list[Any] = []
        with self._write_txn() as db:
            for op, args in ops:
                db.execute("SAVEPOINT op")
                try:
                    outcomes.append(op(db, *args))
                except StoreError as exc:
                    db.execute("ROLLBACK TO op")
                    outcomes.append(exc)
                db.execute("RELEASE op")
        return outcomes

    @contextlib.contextmanager
    def _write_txn(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so the read-check-write is atomic."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _current_for_write(
        db: sqlite3.Connection, key: str, expected_revision: int
    ) -> tuple[bytes, int, int]:
        """(value, create_revision, mod_revision) of ``key``, checked against the expectation."""
        row = db.execute(
            "SELECT value, create_revision, mod_revision FROM kv WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            raise KeyNotFound(key)
        if expected_revision and row[2] != expected_revision:
            raise RevisionMismatch(key)
        return row[0], row[1], row[2]

    @staticmethod
    def _append(
        db: sqlite3.Connection,
        key: str,
        kind: str,
        value: bytes,
        prev: bytes | None,
        create_revision: int,
        prev_revision: int | None = None,
    ) -> int:
        cur = db.execute(
            "INSERT INTO log (key, type, value, prev_value, create_revision, prev_revision)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, kind, value, prev, create_revision, prev_revision),
        )
        return int(cur.lastrowid or 0)

    async def compact(self, revision: int) -> None:
        await self._run(self._compact_sync, revision)

    def _compact_sync(self, revision: int) -> None:
        with self._write_txn() as db:
            latest = self._revision_sync()
            if revision > latest:
                raise StoreError(
                    f"cannot compact at revision {revision}: the latest revision is {latest}"
                )
            current = self._compacted_sync()
            if revision > current:
                db.execute("DELETE FROM log WHERE revision <= ?", (revision,))
                db.execute(
                    "INSERT INTO meta VALUES ('compacted', ?)"
                    " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (revision,),
                )

    # -- watch ---------------------------------------------------------------

    async def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        compacted = await self.compacted_revision()
        if from_revision < compacted:
            raise Compacted(from_revision, compacted)
        position = from_revision
        while True:
            waiter = self._written
            events, scanned, full = await self._run(self._log_after_sync, prefix, position)
            for event in events:
                yield event
            position = max(position, scanned)
            if full:
                continue
            try:
                await asyncio.wait_for(waiter.wait(), self._poll_interval)
            except TimeoutError:
                pass

    def _log_after_sync(self, prefix: str, revision: int) -> tuple[builtins.list[Event], int, bool]:
        """Events under ``prefix`` after ``revision``; the last revision scanned; more pending."""
        db = self._db()
        rows = db.execute(
            "SELECT revision, key, type, value, prev_value, create_revision FROM log"
            " WHERE revision > ? ORDER BY revision LIMIT ?",
            (revision, _WATCH_BATCH),
        ).fetchall()
        if rows and revision < self._compacted_sync():
            raise Compacted(revision, self._compacted_sync())
        events = [
            Event(type=t, key=k, value=v, revision=r, prev_value=p, create_revision=c)
            for r, k, t, v, p, c in rows
            if k.startswith(prefix)
        ]
        scanned = rows[-1][0] if rows else revision
        return events, scanned, len(rows) >= _WATCH_BATCH

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.close()
        conn = self._conn
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=False)

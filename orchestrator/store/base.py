"""The Store protocol: a revisioned key-value store with a change log.

The model is etcd's (and kine's over SQL): one global revision counter that
every write advances; each key remembers the revision that created it and the
revision of its last change (``mod_revision``). Writes are conditional:

- ``create`` fails with ``KeyExists`` when the key is present;
- ``update`` and ``delete`` take the ``mod_revision`` the caller last saw and
  fail with ``RevisionMismatch`` when the key has changed since (compare and
  swap), or ``KeyNotFound`` when it is gone;
- ``watch`` replays every change after a revision, in revision order, then
  follows new ones; a revision older than the compacted history raises
  ``Compacted`` (the API server turns it into 410 Gone);
- ``list`` reads the latest state or the state as of a past revision, with
  the same ``Compacted`` rule.

Values are opaque bytes to the store. Only ``orchestrator.apiserver`` talks to
a store; everything else goes through the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol


class StoreError(Exception):
    """Base of the store's errors; backends wrap their own failures in it."""


class KeyExists(StoreError):
    """``create`` found the key already present."""


class KeyNotFound(StoreError):
    """The key is absent (``update``/``delete``)."""


class RevisionMismatch(StoreError):
    """The key changed after the revision the caller expected."""


class Compacted(StoreError):
    """The requested revision is older than the retained history."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} is compacted (oldest kept: {compacted})")
        self.requested = requested
        self.compacted = compacted


class StoreUnavailable(StoreError):
    """The backend cannot be reached (etcd down, database locked too long)."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    # Read through an old key or in plaintext (encryption at rest): an update must
    # rewrite it even when nothing changed. Backends never set it; the encrypting
    # wrapper (orchestrator.apiserver.encryption.store) does.
    stale: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One change. For ``DELETE``, ``value`` is the last value before deletion."""

    type: Literal["PUT", "DELETE"]
    key: str
    value: bytes
    revision: int
    prev_value: bytes | None = None
    create_revision: int = 0


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int
    more: bool


def prefix_end(prefix: str) -> str:
    """The smallest key greater than every key that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class Store(Protocol):
    async def get(self, key: str) -> KeyValue | None:
        """The current value of ``key``, or None."""
        ...

    async def list(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> ListResult:
        """Keys under ``prefix`` in key order, after ``start_after``; ``limit`` 0 = all.

        ``revision`` 0 lists the latest state; N lists the state as of revision N
        (each key with the value and mod_revision it had then), which is how a
        paged list reads every page at its first page's revision. N below the
        compacted history raises ``Compacted``; N past the latest write is a
        ``StoreError`` (callers wait for it first). The result's ``revision`` is
        the one the list reflects.
        """
        ...

    async def count(self, prefix: str) -> int:
        """How many keys lie under ``prefix``."""
        ...

    async def create(self, key: str, value: bytes) -> int:
        """Create ``key``; returns the new revision. Raises KeyExists."""
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        """Replace ``key`` if its mod_revision is ``expected_revision``; returns the new one."""
        ...

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        """Delete ``key`` (at ``expected_revision`` if non-zero); returns (revision, last value)."""
        ...

    async def current_revision(self) -> int:
        """The revision of the latest write."""
        ...

    async def compacted_revision(self) -> int:
        """Revisions at or below this are no longer replayable by ``watch``."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history at or below ``revision``."""
        ...

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        """Changes under ``prefix`` with revision > ``from_revision``, forever.

        Raises Compacted (on first iteration) when ``from_revision`` is older
        than the retained history.
        """
        ...

    async def close(self) -> None: ...

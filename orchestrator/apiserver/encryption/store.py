"""A Store that encrypts the values of configured resources on their way in and out.

``EncryptedStore`` wraps any backend (SQLite, etcd) and keeps its protocol:
whatever sits above (the registry, the watch hub, compaction, allocators)
sees plaintext; whatever the backend keeps (SQLite's ``kv`` and ``log``
tables, its WAL, etcd's keys and history) holds only the sealed bytes, since
the log is written from the same value the current row is.

Cost: a key outside every configured prefix is handed straight to the
backend (``get`` returns the backend's own coroutine, ``watch`` tests one
``startswith`` per event); only configured resources pay a cipher. The
configuration may change under it (``reconfigure``, ``reload.py``).

Reads: the provider is picked by the stored prefix (``providers.Chain``). A
value read through anything but the first provider and key comes back with
``KeyValue.stale`` set, so the registry rewrites it on an unchanged update.
A value that cannot be opened answers, for that object only, Kubernetes'
500 ``Internal error occurred: unable to transform key "<key>": <cause>``;
a list that meets one fails the same way (as Kubernetes' does). A watch
event that cannot be opened is logged and left out (its object answers the
500 on a read); a previous value that cannot be opened is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from orchestrator.api import errors
from orchestrator.apiserver.encryption.config import EncryptionConfig
from orchestrator.apiserver.encryption.providers import Chain, TransformError
from orchestrator.store.base import Event, KeyValue, ListResult, Store

log = logging.getLogger(__name__)


def transform_error(key: str, exc: Exception) -> errors.InternalError:
    cause = f'unable to transform key "{key}": {exc}'
    return errors.InternalError(
        f"Internal error occurred: {cause}", details={"causes": [{"message": cause}]}
    )


class EncryptedStore:
    """``inner`` with the values under ``config``'s resources sealed (module docstring)."""

    def __init__(self, inner: Store, config: EncryptionConfig) -> None:
        self.inner = inner
        self.reconfigure(config)

    def reconfigure(self, config: EncryptionConfig) -> None:
        """Use ``config`` from the next read or write on (``reload.py``)."""
        self.config = config
        self._prefixes = config.by_prefix()
        self._roots = tuple(prefix for prefix, _ in self._prefixes)

    def chain_for(self, key: str) -> Chain | None:
        """The providers for ``key``, or None when it is not configured."""
        if not key.startswith(self._roots):
            return None
        for prefix, chain in self._prefixes:
            if key.startswith(prefix):
                return chain
        return None

    def _overlaps(self, prefix: str) -> bool:
        return any(p.startswith(prefix) or prefix.startswith(p) for p in self._roots)

    def _open(self, kv: KeyValue, chain: Chain) -> KeyValue:
        try:
            plain, stale = chain.open(kv.value, kv.key)
        except TransformError as exc:
            raise transform_error(kv.key, exc) from None
        return KeyValue(kv.key, plain, kv.create_revision, kv.mod_revision, stale)

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str) -> Coroutine[Any, Any, KeyValue | None]:
        chain = self.chain_for(key)
        if chain is None:
            return self.inner.get(key)
        return self._get(key, chain)

    async def _get(self, key: str, chain: Chain) -> KeyValue | None:
        kv = await self.inner.get(key)
        return None if kv is None else self._open(kv, chain)

    async def list(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> ListResult:
        result = await self.inner.list(
            prefix, start_after=start_after, limit=limit, revision=revision
        )
        if not self._overlaps(prefix):
            return result
        items = []
        for kv in result.items:
            chain = self.chain_for(kv.key)
            items.append(kv if chain is None else self._open(kv, chain))
        return ListResult(items=items, revision=result.revision, more=result.more)

    def count(self, prefix: str) -> Coroutine[Any, Any, int]:
        return self.inner.count(prefix)

    def current_revision(self) -> Coroutine[Any, Any, int]:
        return self.inner.current_revision()

    def compacted_revision(self) -> Coroutine[Any, Any, int]:
        return self.inner.compacted_revision()

    # -- writes ------------------------------------------------------------------------

    def create(self, key: str, value: bytes) -> Coroutine[Any, Any, int]:
        chain = self.chain_for(key)
        return self.inner.create(key, value if chain is None else chain.seal(value, key))

    def update(self, key: str, value: bytes, expected_revision: int) -> Coroutine[Any, Any, int]:
        chain = self.chain_for(key)
        sealed = value if chain is None else chain.seal(value, key)
        return self.inner.update(key, sealed, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        revision, kv = await self.inner.delete(key, expected_revision)
        chain = self.chain_for(key)
        if chain is not None:
            try:
                kv = self._open(kv, chain)
            except errors.InternalError:
                pass  # gone anyway: the caller gets the stored bytes it could not read
        return revision, kv

    def compact(self, revision: int) -> Coroutine[Any, Any, None]:
        return self.inner.compact(revision)

    # -- watch -------------------------------------------------------------------------

    async def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        async for event in self.inner.watch(prefix, from_revision):
            if not event.key.startswith(self._roots):  # read each time: a reload changes it
                yield event
                continue
            opened = self._open_event(event)
            if opened is not None:
                yield opened

    def _open_event(self, event: Event) -> Event | None:
        chain = self.chain_for(event.key)
        if chain is None:
            return event
        try:
            value, _ = chain.open(event.value, event.key)
        except TransformError as exc:
            log.error(
                "watch event at revision %s left out: %s",
                event.revision,
                transform_error(event.key, exc).message,
            )
            return None
        prev = event.prev_value
        if prev is not None:
            try:
                prev, _ = chain.open(prev, event.key)
            except TransformError:
                prev = None
        return Event(event.type, event.key, value, event.revision, prev, event.create_revision)

    async def close(self) -> None:
        await self.inner.close()

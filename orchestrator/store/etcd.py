"""etcd store: the protocol on etcd v3, for clusters where several API servers share state.

The store revision *is* etcd's revision: ``create_revision``/``mod_revision``
come straight from etcd's key-values and the revision a write returns is the
header revision of its transaction, so several ``EtcdStore`` instances (several
API servers) on one etcd share one counter and see each other's writes.

Writes are single etcd transactions, so the check and the change are atomic:

- ``create``: ``create_revision(key) == 0`` then put; else ``KeyExists``.
- ``update``/``delete``: ``mod_revision(key) == expected`` (or, for 0,
  ``create_revision(key) > 0``: it exists) then put/delete-with-prev_kv; on
  failure the else branch reads the key in the same transaction to tell
  ``KeyNotFound`` from ``RevisionMismatch`` without a second round trip.

Reads use etcd's range directly (aetcd's helpers lack ``limit`` and
``count_only``): keys come back in key order, ``more`` is etcd's flag, and a
list's revision is the header revision of that range. Reads are linearizable.

Watch: one gRPC watch stream per ``watch()`` call with ``prev_kv``, read
lazily, so a slow consumer leaves events in etcd (which parks slow watchers
and catches them up from its own history) instead of in an unbounded buffer
here. aetcd's shared watcher is not used for that reason, and because it
buffers every event in an unbounded queue. The watch starts at
``from_revision`` itself (not +1) and drops events at or below it: etcd
refuses a start revision below its compaction revision, so this makes etcd
raise exactly when ``from_revision < compacted_revision()``, the same rule as
the SQLite store. A compaction notice (at start or later, for a watcher that
fell behind) becomes ``Compacted``.

Compaction: ``compact(rev)`` is etcd's compaction; compacting below the
current compaction is a no-op, and a revision newer than the store's is an
error. etcd has no getter for its compaction revision, and a key such as
kube-apiserver's ``compact_rev_key`` would miss compactions made by others
(etcdctl, ``--auto-compaction-*``) and add writes of its own. So
``compacted_revision()`` asks etcd: a range read at revision ``r`` fails iff
``r`` is compacted, and a binary search between the last known compaction
revision and the current revision finds it (one read when nothing changed).

Endpoints: "host:port" or "http://host:port", as a list or comma-separated.
``open()`` uses the first that answers a read within ``connect_timeout``;
there is no failover after that: when it stops answering, calls raise
``StoreUnavailable`` naming it, and the process is expected to exit and be
restarted (it will then pick a live endpoint). TLS and auth are not supported
yet. gRPC and aetcd errors never leave this module: unreachable/timeouts are
``StoreUnavailable``; any other etcd refusal is a ``StoreError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aetcd
import aetcd.exceptions
import grpc
from aetcd import rpc

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
)

R = TypeVar("R")

_UNAVAILABLE_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
# Any key serves to read the header revision; this one sorts before all real keys.
_PROBE_KEY = b"\x00"


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoints(endpoints: list[str] | str) -> list[Endpoint]:
    """Endpoints from "host:port" / "http://host:port" items, each possibly comma-separated."""
    items = [endpoints] if isinstance(endpoints, str) else list(endpoints)
    parsed: list[Endpoint] = []
    for item in items:
        for raw in item.split(","):
            text = raw.strip()
            if not text:
                continue
            if "://" not in text:
                text = "http://" + text
            url = urlsplit(text)
            if url.scheme != "http":
                raise ValueError(f"etcd endpoint {raw.strip()!r}: only http:// is supported")
            if not url.hostname:
                raise ValueError(f"etcd endpoint {raw.strip()!r} has no host")
            host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
            parsed.append(Endpoint(host, url.port or 2379))
    if not parsed:
        raise ValueError("no etcd endpoint given")
    return parsed


def _range_end(prefix: bytes) -> bytes:
    """etcd's range end for a prefix; b"\\x00" (every key) for the empty prefix."""
    if not prefix:
        return b"\x00"
    # UTF-8 never contains 0xff, so the last byte can always be incremented.
    return prefix[:-1] + bytes([prefix[-1] + 1])


def _is_compacted_error(exc: grpc.aio.AioRpcError) -> bool:
    return exc.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in (exc.details() or "")


def _event(raw: Any) -> Event:
    key = raw.kv.key.decode()
    prev = raw.prev_kv if raw.HasField("prev_kv") else None
    prev_value = prev.value if prev is not None else None
    if raw.type == rpc.Event.DELETE:
        # etcd's DELETE carries only the key; the last value is the prev_kv.
        return Event(
            type="DELETE",
            key=key,
            value=prev_value or b"",
            revision=raw.kv.mod_revision,
            prev_value=prev_value,
            create_revision=prev.create_revision if prev is not None else 0,
        )
    return Event(
        type="PUT",
        key=key,
        value=raw.kv.value,
        revision=raw.kv.mod_revision,
        prev_value=prev_value,
        create_revision=raw.kv.create_revision,
    )


class EtcdStore:
    """A Store over an etcd v3 cluster (see the module docstring)."""

    def __init__(
        self,
        endpoints: list[str] | str,
        *,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self._endpoints = parse_endpoints(endpoints)
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._client: aetcd.Client | None = None
        self._endpoint: Endpoint | None = None
        self._watches: set[grpc.aio.StreamStreamCall] = set()
        self._compacted_floor = 0
        self._closed = False

    @property
    def endpoint(self) -> str:
        """The endpoint in use (after ``open()``)."""
        return str(self._endpoint) if self._endpoint else ""

    async def open(self) -> EtcdStore:
        failures: list[str] = []
        for endpoint in self._endpoints:
            client = aetcd.Client(
                host=endpoint.host,
                port=endpoint.port,
                timeout=self._request_timeout,
                options={"grpc.max_receive_message_length": -1},
            )
            try:
                await client.connect()
                request = rpc.RangeRequest(key=_PROBE_KEY, count_only=True)
                await client.kvstub.Range(request, timeout=self._connect_timeout)
            except (grpc.aio.AioRpcError, aetcd.exceptions.ClientError) as exc:
                detail = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
                failures.append(f"{endpoint}: {detail}")
                await client.close()
                continue
            self._client, self._endpoint = client, endpoint
            return self
        raise StoreUnavailable("no etcd endpoint answered: " + "; ".join(failures))

    def _kv(self) -> Any:
        if self._closed:
            raise StoreUnavailable("etcd store is closed")
        if self._client is None:
            raise RuntimeError("EtcdStore.open() was not awaited")
        return self._client.kvstub

    def _wrap(self, exc: grpc.aio.AioRpcError) -> StoreError:
        message = f"etcd {self._endpoint}: {exc.code().name}: {exc.details()}"
        if exc.code() in _UNAVAILABLE_CODES:
            return StoreUnavailable(message)
        return StoreError(message)

    async def _call(self, method: Callable[..., Awaitable[R]], request: Any) -> R:
        try:
            return await method(request, timeout=self._request_timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._wrap(exc) from exc

    # -- reads ---------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        response = await self._call(self._kv().Range, rpc.RangeRequest(key=key.encode()))
        if not response.kvs:
            return None
        kv = response.kvs[0]
        return KeyValue(key, kv.value, kv.create_revision, kv.mod_revision)

    async def list(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> ListResult:
        low = prefix.encode()
        if start_after:
            low = max(low, start_after.encode() + b"\x00")
        request = rpc.RangeRequest(
            key=low or _PROBE_KEY,
            range_end=_range_end(prefix.encode()),
            limit=max(limit, 0),
            revision=max(revision, 0),  # etcd reads its own history at a past revision
        )
        # No sort options: etcd returns a range in key order, and asking for
        # ascending-by-key would only make it sort again.
        try:
            response = await self._kv().Range(request, timeout=self._request_timeout)
        except grpc.aio.AioRpcError as exc:
            if revision and _is_compacted_error(exc):
                raise Compacted(revision, await self.compacted_revision()) from exc
            raise self._wrap(exc) from exc
        items = [
            KeyValue(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision)
            for kv in response.kvs
        ]
        listed = revision or response.header.revision
        return ListResult(items=items, revision=listed, more=response.more)

    async def count(self, prefix: str) -> int:
        encoded = prefix.encode()
        request = rpc.RangeRequest(
            key=encoded or _PROBE_KEY, range_end=_range_end(encoded), count_only=True
        )
        response = await self._call(self._kv().Range, request)
        return int(response.count)

    async def current_revision(self) -> int:
        request = rpc.RangeRequest(key=_PROBE_KEY, count_only=True)
        response = await self._call(self._kv().Range, request)
        return int(response.header.revision)

    async def compacted_revision(self) -> int:
        low = max(self._compacted_floor, 1)
        if await self._readable_at(low):
            return self._compacted_floor
        high = await self.current_revision()  # never compacted away: etcd keeps its head
        while high - low > 1:  # invariant: low is compacted, high is readable
            middle = (low + high) // 2
            if await self._readable_at(middle):
                high = middle
            else:
                low = middle
        self._compacted_floor = max(self._compacted_floor, high)
        return high

    async def _readable_at(self, revision: int) -> bool:
        request = rpc.RangeRequest(key=_PROBE_KEY, count_only=True, revision=revision)
        try:
            await self._kv().Range(request, timeout=self._request_timeout)
        except grpc.aio.AioRpcError as exc:
            if _is_compacted_error(exc):
                return False
            raise self._wrap(exc) from exc
        return True

    # -- writes --------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        encoded = key.encode()
        request = rpc.TxnRequest(
            compare=[
                rpc.Compare(
                    key=encoded,
                    target=rpc.Compare.CREATE,
                    result=rpc.Compare.EQUAL,
                    create_revision=0,
                )
            ],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=encoded, value=value))],
        )
        response = await self._call(self._kv().Txn, request)
        if not response.succeeded:
            raise KeyExists(key)
        return int(response.header.revision)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        encoded = key.encode()
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=encoded, value=value))
        response = await self._conditional(encoded, expected_revision, put)
        if not response.succeeded:
            self._raise_failed(key, response)
        return int(response.header.revision)

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        encoded = key.encode()
        delete = rpc.RequestOp(
            request_delete_range=rpc.DeleteRangeRequest(key=encoded, prev_kv=True)
        )
        response = await self._conditional(encoded, expected_revision, delete)
        if not response.succeeded:
            self._raise_failed(key, response)
        prev = response.responses[0].response_delete_range.prev_kvs[0]
        last = KeyValue(key, prev.value, prev.create_revision, prev.mod_revision)
        return int(response.header.revision), last

    async def _conditional(self, key: bytes, expected_revision: int, operation: Any) -> Any:
        """Run ``operation`` if ``key`` is at ``expected_revision`` (0: if it exists)."""
        if expected_revision:
            compare = rpc.Compare(
                key=key,
                target=rpc.Compare.MOD,
                result=rpc.Compare.EQUAL,
                mod_revision=expected_revision,
            )
        else:
            compare = rpc.Compare(
                key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER, create_revision=0
            )
        read_back = rpc.RequestOp(request_range=rpc.RangeRequest(key=key, count_only=True))
        request = rpc.TxnRequest(compare=[compare], success=[operation], failure=[read_back])
        return await self._call(self._kv().Txn, request)

    @staticmethod
    def _raise_failed(key: str, response: Any) -> None:
        if response.responses[0].response_range.count == 0:
            raise KeyNotFound(key)
        raise RevisionMismatch(key)

    async def compact(self, revision: int) -> None:
        request = rpc.CompactionRequest(revision=revision)
        try:
            await self._kv().Compact(request, timeout=self._request_timeout)
        except grpc.aio.AioRpcError as exc:
            if _is_compacted_error(exc):
                return  # already compacted at or beyond ``revision``
            if exc.code() == grpc.StatusCode.OUT_OF_RANGE:
                raise StoreError(
                    f"cannot compact at revision {revision}: etcd {self._endpoint} says"
                    f" {exc.details()}"
                ) from exc
            raise self._wrap(exc) from exc
        self._compacted_floor = max(self._compacted_floor, revision)

    # -- watch ---------------------------------------------------------------

    async def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        self._kv()  # fail early when closed or not opened
        assert self._client is not None
        encoded = prefix.encode()
        create = rpc.WatchCreateRequest(
            key=encoded or _PROBE_KEY,
            range_end=_range_end(encoded),
            start_revision=max(from_revision, 1),
            prev_kv=True,
        )
        call = rpc.WatchStub(self._client.channel).Watch()
        self._watches.add(call)
        position = from_revision
        try:
            await self._watch_io(call.write(rpc.WatchRequest(create_request=create)))
            while True:
                response = await self._watch_io(call.read())
                if response is grpc.aio.EOF:
                    raise StoreUnavailable(f"etcd {self._endpoint} ended the watch on {prefix!r}")
                if response.compact_revision:
                    self._compacted_floor = max(self._compacted_floor, response.compact_revision)
                    raise Compacted(position, response.compact_revision)
                if response.canceled:
                    raise StoreError(
                        f"etcd {self._endpoint} cancelled the watch on {prefix!r}:"
                        f" {response.cancel_reason}"
                    )
                for raw in response.events:
                    event = _event(raw)
                    if event.revision > from_revision:  # see "starts at from_revision"
                        position = event.revision
                        yield event
        finally:
            self._watches.discard(call)
            call.cancel()

    async def _watch_io(self, operation: Awaitable[R]) -> R:
        try:
            return await operation
        except grpc.aio.AioRpcError as exc:
            raise self._wrap(exc) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and task is not None and not task.cancelling():
                # close() cancelled the call, not our caller cancelling us.
                raise StoreUnavailable("etcd store is closed") from None
            raise

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for call in list(self._watches):
            call.cancel()
        if self._client is not None:
            await self._client.close()

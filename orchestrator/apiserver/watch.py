"""Watch streams: newline-delimited ``{"type": ..., "object": ...}`` events.

Semantics (Kubernetes'):
- ``resourceVersion`` absent or "0": ADDED for every current match (from a
  list at revision R), then every change after R.
- ``resourceVersion=N``: every change after N; if N is compacted, one ERROR
  event carrying a 410 ``Expired`` Status, then the stream ends. An N the
  store has not reached yet waits for it (Kubernetes' watch cache does too).
- A store failure once the stream has begun ends it with an ERROR event
  carrying the failure as a Status (500 InternalError unless it is an API
  error), as Kubernetes' etcd watcher does, rather than a cut connection.
- Selectors apply to the old and new state: an object that starts matching
  arrives as ADDED, one that stops matching as DELETED.
- BOOKMARK events (only when asked), about every ``bookmark_interval``,
  carry a revision up to which the stream has sent every change (the hub's
  ``Progress``), so a client can resume from it without replaying what it
  skipped, and without missing what was still on its way.
- The stream ends after ``timeoutSeconds``, or after the server's own
  lifetime for watches that give none (``kubectl get -w`` exits when the
  stream closes, so that lifetime is long).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.api.jsoncodec import dumps
from orchestrator.api.resources import ResourceType
from orchestrator.api.selectors import FieldSelector, LabelSelector
from orchestrator.apiserver import metrics
from orchestrator.apiserver.registry import Registry, matches
from orchestrator.apiserver.watchcache import Change, Dropped, Progress, WatchHub
from orchestrator.store.base import Compacted

Render = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class WatchSettings:
    bookmark_interval: float = 60.0  # Kubernetes sends one about every minute
    min_lifetime: float = 1800.0  # watches without timeoutSeconds live 30-60 minutes
    max_lifetime: float = 3600.0


def _gone(requested: int, compacted: int) -> dict[str, Any]:
    return errors.Gone(f"too old resource version: {requested} ({compacted})").to_status()


def _failure(exc: BaseException) -> dict[str, Any]:
    """The Status an ERROR event carries for a failure mid-stream (Kubernetes' etcd3 watcher
    sends API errors as they are and anything else as an InternalError)."""
    if isinstance(exc, errors.APIError):
        return exc.to_status()
    return errors.InternalError(f"Internal error occurred: {exc}").to_status()


def classify(
    change: Change, labels: LabelSelector | None, fields: FieldSelector | None
) -> str | None:
    """ADDED / MODIFIED / DELETED as this watcher sees the change, or None to skip it."""
    now = change.type == "PUT" and matches(change.obj, labels, fields)
    if change.type == "DELETE":
        return "DELETED" if matches(change.obj, labels, fields) else None
    if change.prev is None:
        return "ADDED" if now else None
    before = matches(change.prev, labels, fields)
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else None


async def stream(
    registry: Registry,
    hub: WatchHub,
    rt: ResourceType,
    namespace: str,
    *,
    resource_version: str,
    labels: LabelSelector | None,
    fields: FieldSelector | None,
    timeout: float,
    bookmarks: bool,
    render: Render | None,
    settings: WatchSettings,
) -> AsyncIterator[bytes]:
    """The stream's lines; ``render`` (the Table form) or None for objects as they are."""
    plain = render is None
    if render is None:
        render = _as_is
    loop = asyncio.get_running_loop()
    lifetime = timeout or random.uniform(settings.min_lifetime, settings.max_lifetime)
    deadline = loop.time() + lifetime
    prefix = rt.storage_prefix(namespace)
    if resource_version in ("", "0"):
        items, after, _ = await registry.list(rt, namespace, labels=labels, fields=fields)
        for obj in items:
            yield _line("ADDED", render(obj))
    else:
        try:
            after = int(resource_version)
        except ValueError:
            raise errors.BadRequest(f"invalid resourceVersion: {resource_version!r}") from None

    queue: asyncio.Queue[Change | Progress | BaseException] = asyncio.Queue(maxsize=64)
    progress = settings.bookmark_interval if bookmarks else 0.0
    pump = asyncio.create_task(_pump(hub.changes(prefix, after, progress), queue))
    last = after
    sent, watchers = metrics.watch_children(rt)  # apiserver_watch_events_total, ..._watchers
    watchers.inc()
    try:
        while True:
            now = loop.time()
            if now >= deadline:
                return
            try:
                item = queue.get_nowait()  # under load the next change is already here
            except asyncio.QueueEmpty:
                try:
                    item = await asyncio.wait_for(queue.get(), deadline - now)
                except TimeoutError:
                    continue
            # Whatever else is waiting goes out in the same write: one chunk, one TLS
            # record, one pass through the ASGI send chain for a burst of changes.
            batch = [item]
            while len(batch) < _BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            lines: list[bytes] = []
            for item in batch:
                if isinstance(item, Compacted):
                    lines.append(_line("ERROR", _gone(item.requested, item.compacted)))
                    yield b"".join(lines)
                    return
                if isinstance(item, Dropped):
                    if lines:
                        yield b"".join(lines)
                    return
                if isinstance(item, BaseException):  # the store failed: say so, then end
                    lines.append(_line("ERROR", _failure(item)))
                    yield b"".join(lines)
                    return
                if isinstance(item, Progress):  # everything up to it went out before it
                    last = max(last, item.revision)
                    bookmark = {
                        "kind": rt.kind,
                        "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(last)},
                    }
                    lines.append(_line("BOOKMARK", bookmark))
                    continue
                last = item.revision
                kind = classify(item, labels, fields)
                if kind is not None:
                    if plain:
                        lines.append(b'{"type":"%s","object":%s}\n' % (kind.encode(), item.encoded))
                    else:
                        lines.append(_line(kind, render(item.obj)))
            if lines:
                sent.inc(len(lines))
                yield b"".join(lines)
    finally:
        watchers.dec()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump


async def _pump(
    changes: AsyncIterator[Change | Progress],
    queue: asyncio.Queue[Change | Progress | BaseException],
) -> None:
    try:
        async for change in changes:
            await queue.put(change)  # bounded: a slow client backs up into the hub, which drops it
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        await queue.put(exc)


_BATCH = 256  # changes written at once, at most


def _as_is(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return dumps({"type": kind, "object": obj}) + b"\n"

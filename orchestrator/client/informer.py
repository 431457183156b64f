"""Informers: a local cache of one resource, kept by list + watch.

``run()`` lists (following ``continue``), replaces the cache and tells the
handlers what changed, then watches from the list's resourceVersion with
bookmarks so that a reconnect resumes without replaying. When the stream
ends it re-watches from the last revision seen; when that revision is gone
(410) it relists; when the server is unreachable it retries with backoff.
A relist tells handlers about objects that vanished while it was away, so
nothing is missed, only coalesced. An optional resync re-delivers every
cached object as an update, which heals anything a handler dropped.

A kind the server does not serve (404 on the list or the watch: a custom
kind whose definition is not established yet, or was deleted) is waited
for, as Kubernetes' reflector does: one INFO line, then a relist with
backoff (``unserved_retry_*``) until it is served, and ``wait_synced``
returns only after that first list. The cache is kept meanwhile rather
than emptied (the reflector keeps its store too): deleting a definition
deletes its objects first, so their DELETED events have already arrived,
and the relist once the kind is back reports whatever changed.

Objects in the cache are shared: never mutate one, copy it first.
Indexes (``add_index``) map a computed value (an owner uid, a node name)
to the keys of the objects that have it.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import ResourceType
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)

IndexFunc = Callable[[Obj], Iterable[str]]


def object_key(obj: Obj) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


@dataclass(frozen=True)
class Handler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


@dataclass(frozen=True)
class InformerSettings:
    watch_timeout: int = 300  # seconds a watch request lives before a quiet re-watch
    retry_base: float = 0.2  # backoff when the API server is unreachable
    retry_cap: float = 10.0
    resync_period: float = 0.0  # 0 = never re-deliver the cache
    # A kind not served yet is asked for again after 0.5 s, doubling up to 5 s: a custom kind
    # is served within a second of its definition being established, and a kind that never
    # comes costs one request per 5 s.
    unserved_retry_base: float = 0.5
    unserved_retry_cap: float = 5.0


class Informer:
    def __init__(
        self,
        client: APIClient,
        rt: ResourceType,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        settings: InformerSettings | None = None,
    ) -> None:
        self.client = client
        self.rt = rt
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.settings = settings or InformerSettings()
        self._cache: dict[str, Obj] = {}
        self._handlers: list[Handler] = []
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self.synced = asyncio.Event()
        self.revision = ""
        self.served = True  # False while the server answers 404 for the kind

    # -- reading the cache ---------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self._cache.get(key)

    def get_by_name(self, namespace: str, name: str) -> Obj | None:
        return self._cache.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str = "") -> list[Obj]:
        if not namespace:
            return list(self._cache.values())
        prefix = namespace + "/"
        return [o for k, o in self._cache.items() if k.startswith(prefix)]

    def keys(self) -> builtins.list[str]:
        return list(self._cache)

    def add_index(self, name: str, func: IndexFunc) -> None:
        self._index_funcs[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._cache.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        keys = self._indexes[name].get(value, ())
        return [self._cache[k] for k in keys if k in self._cache]

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)
        for obj in self._cache.values():
            if handler.on_add:
                handler.on_add(obj)

    async def wait_synced(self) -> None:
        await self.synced.wait()

    # -- keeping it -----------------------------------------------------------

    def _store(self, key: str, obj: Obj | None) -> Obj | None:
        old = self._cache.get(key)
        for name, func in self._index_funcs.items():
            index = self._indexes[name]
            if old is not None:
                for value in func(old):
                    index.get(value, set()).discard(key)
            if obj is not None:
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
        if obj is None:
            self._cache.pop(key, None)
        else:
            self._cache[key] = obj
        return old

    def _emit_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add:
                self._safely(h.on_add, obj)

    def _emit_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update:
                self._safely(h.on_update, old, new)

    def _emit_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete:
                self._safely(h.on_delete, obj)

    def _safely(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:  # a handler's bug must not stop the informer
            log.exception("%s informer handler failed", self.rt.plural)

    def _apply(self, event: str, obj: Obj) -> None:
        key = object_key(obj)
        if event == "DELETED":
            old = self._store(key, None)
            self._emit_delete(old or obj)
            return
        old = self._store(key, obj)
        if old is None:
            self._emit_add(obj)
        else:
            self._emit_update(old, obj)

    async def _relist(self) -> None:
        page = await self.client.list(
            self.rt,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        fresh = {object_key(o): o for o in page.get("items") or []}
        for key in list(self._cache):
            if key not in fresh:
                old = self._store(key, None)
                if old is not None:
                    self._emit_delete(old)
        for key, obj in fresh.items():
            old = self._store(key, obj)
            if old is None:
                self._emit_add(obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._emit_update(old, obj)
        self.revision = str(page.get("metadata", {}).get("resourceVersion", ""))
        self.synced.set()

    async def run(self) -> None:
        """Keep the cache until cancelled."""
        failures = 0
        need_list = True
        resync = asyncio.create_task(self._resync()) if self.settings.resync_period else None
        try:
            while True:
                try:
                    if need_list:
                        await self._relist()
                        need_list = False
                        if not self.served:
                            self.served = True
                            failures = 0
                            log.info("%s is served: informer synced", self.rt.group_resource)
                    async for event, obj in self.client.watch(
                        self.rt,
                        self.namespace,
                        resource_version=self.revision,
                        label_selector=self.label_selector,
                        field_selector=self.field_selector,
                        timeout_seconds=self.settings.watch_timeout,
                        bookmarks=True,
                    ):
                        failures = 0
                        self.revision = str(metadata_of(obj).get("resourceVersion", self.revision))
                        if event != "BOOKMARK":
                            self._apply(event, obj)
                except errors.Gone:
                    need_list = True
                except errors.NotFound:
                    need_list = True
                    failures += 1
                    await asyncio.sleep(self._unserved(failures))
                except (
                    errors.ServiceUnavailable,
                    errors.InternalError,
                    errors.TooManyRequests,
                    errors.Timeout,
                ) as exc:
                    failures += 1
                    delay = min(
                        self.settings.retry_cap, self.settings.retry_base * 2 ** min(failures, 16)
                    )
                    log.warning("%s informer: %s; retrying in %.1fs", self.rt.plural, exc, delay)
                    await asyncio.sleep(delay)
        finally:
            if resync is not None:
                resync.cancel()

    def _unserved(self, failures: int) -> float:
        """Note (once) that the kind is not served; the delay before asking again."""
        if self.served:
            self.served = False
            state = "no longer served" if self.synced.is_set() else "not served yet"
            log.info("waiting for %s to be served (%s)", self.rt.group_resource, state)
        s = self.settings
        return min(s.unserved_retry_cap, s.unserved_retry_base * 2 ** min(failures - 1, 16))

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_period)
            for obj in list(self._cache.values()):
                self._emit_update(obj, obj)

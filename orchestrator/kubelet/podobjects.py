"""The ConfigMaps and Secrets this node's pods use, each watched by name.

Under the Node authorizer a node may read only the Secrets and ConfigMaps
that pods bound to it reference, and list/watch them only by name
(``fieldSelector=metadata.name=<name>``). So instead of one informer over
every Secret in the cluster, the agent keeps one small informer per object
its pods name (Kubernetes' watch-based ConfigMap and Secret managers):

- ``track(pod)`` / ``untrack(uid)`` keep a count per referenced object
  (``orchestrator.api.podrefs``); the first pod to name an object starts
  its informer, the last one to go stops it;
- ``config_map`` / ``secret`` answer from those caches (None while an
  informer has not listed yet, or the object does not exist: the pod
  worker retries, and the informer's event enqueues the namespace's pods
  as soon as the object arrives).

Informer events go to the handler given, as the cluster-wide informers'
did. Informers are tasks of their own, cancelled by ``close``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.podrefs import CONFIGMAPS, SECRETS, Reference, pod_references
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.informer import Handler, Informer, InformerSettings
from orchestrator.client.rest import APIClient

TYPES: dict[str, ResourceType] = {
    SECRETS: BUILTIN_TYPES.require("", "Secret"),
    CONFIGMAPS: BUILTIN_TYPES.require("", "ConfigMap"),
}


class PodObjects:
    def __init__(
        self,
        client: APIClient,
        handler: Handler | None = None,
        settings: InformerSettings | None = None,
    ) -> None:
        self._client = client
        self._handler = handler
        self._settings = settings or InformerSettings(watch_timeout=60)
        self._by_pod: dict[str, frozenset[Reference]] = {}
        self._counts: collections.Counter[Reference] = collections.Counter()
        self._informers: dict[Reference, tuple[Informer, asyncio.Task[None]]] = {}

    def track(self, pod: Obj) -> None:
        """Watch what ``pod`` references (and stop what it no longer does)."""
        uid = str(metadata_of(pod).get("uid") or "")
        if not uid:
            return
        refs = frozenset(r for r in pod_references(pod) if r.resource in TYPES)
        old = self._by_pod.get(uid, frozenset())
        if refs == old:
            return
        self._by_pod[uid] = refs
        self._adjust(refs - old, +1)
        self._adjust(old - refs, -1)

    def untrack(self, uid: str) -> None:
        self._adjust(self._by_pod.pop(uid, frozenset()), -1)

    def _adjust(self, refs: frozenset[Reference], step: int) -> None:
        for ref in refs:
            self._counts[ref] += step
            if self._counts[ref] <= 0:
                del self._counts[ref]
                self._stop(ref)
            elif ref not in self._informers:
                self._start(ref)

    def _start(self, ref: Reference) -> None:
        informer = Informer(
            self._client,
            TYPES[ref.resource],
            namespace=ref.namespace,
            field_selector=f"metadata.name={ref.name}",
            settings=self._settings,
        )
        if self._handler is not None:
            informer.add_handler(self._handler)
        task = asyncio.create_task(
            informer.run(), name=f"{ref.resource} {ref.namespace}/{ref.name}"
        )
        self._informers[ref] = (informer, task)

    def _stop(self, ref: Reference) -> None:
        entry = self._informers.pop(ref, None)
        if entry is not None:
            entry[1].cancel()

    def _get(self, resource: str, namespace: str, name: str) -> Obj | None:
        entry = self._informers.get(Reference(resource, namespace, name))
        return entry[0].get_by_name(namespace, name) if entry is not None else None

    def config_map(self, namespace: str, name: str) -> Obj | None:
        return self._get(CONFIGMAPS, namespace, name)

    def secret(self, namespace: str, name: str) -> Obj | None:
        return self._get(SECRETS, namespace, name)

    @property
    def watched(self) -> frozenset[Reference]:
        return frozenset(self._informers)

    async def wait_synced(self, timeout: float) -> bool:
        """Until every informer listed once, or ``timeout``; False if some did not."""
        waits = [informer.wait_synced() for informer, _ in self._informers.values()]
        if not waits:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        tasks = [task for _, task in self._informers.values()]
        self._informers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

"""The namespace controller: a Terminating namespace is emptied, then finalized.

Deleting a Namespace only marks it (phase Terminating, deletionTimestamp,
``spec.finalizers: ["kubernetes"]``); the API already refuses new content
in it. This controller watches Namespaces (handlers enqueue the name) and,
for one being deleted that still carries the ``kubernetes`` finalizer, makes
one pass over every namespaced kind the server serves: it lists what is
left and deletes it as a collection with Background propagation (the
garbage collector takes dependents elsewhere).

The kinds come from discovery (``ServedKinds``), read again at the start of
every pass, as Kubernetes' namespace deleter does: a custom kind defined a
moment before the namespace was deleted is emptied too, never left behind
in a namespace that is gone. A loop also re-reads discovery every
``discovery_interval``, so that a kind appearing or going is logged when it
happens. Until the first read (or with the interval at 0) the catalogue of
its settings, else the client's, stands in. A failed read fails the pass,
which is retried with backoff: finalizing on a partial list of kinds would
be a guess.
Pods bound to a node go gracefully: they stay, terminating, until the node
agent confirms, and objects with finalizers stay until those are removed.

While anything is left the namespace is looked at again after
``recheck_interval`` (content of other kinds is not watched here: listing
per namespace is what Kubernetes' namespace deleter does too). When a pass
finds nothing, the controller PUTs ``/finalize`` with ``spec.finalizers``
without ``kubernetes``, carrying the cached resourceVersion (409: retried
from a fresher cache), and the API removes the namespace.

Every step is idempotent, so a controller killed half-way resumes. A kind
that cannot be listed or deleted is reported as a Warning Event on the
namespace (NamespaceDeletionContentFailure) and retried with backoff.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType, ResourceTypes
from orchestrator.client.context import ControllerContext
from orchestrator.client.discovery import KindChanges, ServedKinds
from orchestrator.client.informer import Handler
from orchestrator.client.rest import resource_path
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import process_queue

log = logging.getLogger(__name__)
FINALIZER = "kubernetes"
NAMESPACES = BUILTIN_TYPES.by_group_kind("", "Namespace")


@dataclass(frozen=True)
class NamespaceSettings:
    types: ResourceTypes | None = None  # kinds to empty before discovery answers; None: client's
    recheck_interval: float = 2.0  # seconds between passes while content is still going
    # Seconds between discovery reads that log kinds appearing or going (every pass reads it
    # too). 0: only the catalogue above, never discovery.
    discovery_interval: float = 5.0


def is_content(rt: ResourceType) -> bool:
    """Whether a namespace can hold objects of this kind that this controller can remove."""
    return rt.namespaced and {"list", "delete"} <= set(rt.verbs)


def content_types(types: ResourceTypes) -> list[ResourceType]:
    """The namespaced kinds a namespace can hold that can be listed and deleted."""
    return [rt for rt in types.per_resource() if is_content(rt)]


class NamespaceController:
    name = "namespace"

    def __init__(self, ctx: ControllerContext, settings: NamespaceSettings | None = None) -> None:
        assert NAMESPACES is not None
        self.ctx = ctx
        self.settings = settings or NamespaceSettings()
        self.served = ServedKinds(
            ctx.client,
            is_content,
            owner=self.name,
            initial=content_types(self.settings.types or ctx.client.types),
        )
        self.queue = WorkQueue(ctx.backoff, name="namespace")
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.namespaces.add_handler(
            Handler(
                on_add=self._enqueue,
                on_update=lambda _old, new: self._enqueue(new),
            )
        )

    def _enqueue(self, ns: Obj) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(process_queue(self.ctx, self.queue, self.reconcile, self.name))
            if self.settings.discovery_interval > 0:
                tg.create_task(self.served.follow(self.settings.discovery_interval, _nothing))

    async def reconcile(self, key: str) -> float | None:
        """One pass over a terminating namespace; returns when to look again, if needed."""
        ns = self.namespaces.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None
        if self.settings.discovery_interval > 0:
            await self.served.refresh()
        remaining = 0
        for rt in self.served.kinds:
            try:
                remaining += await self._delete_content(rt, key)
            except errors.APIError as exc:
                await self.ctx.recorder.emit(
                    ns,
                    "Warning",
                    "NamespaceDeletionContentFailure",
                    f"failed to delete {rt.group_resource} in namespace {key}: {exc}",
                )
                raise
        if remaining:
            return self.settings.recheck_interval
        await self._finalize(ns)
        return None

    async def _delete_content(self, rt: ResourceType, namespace: str) -> int:
        """Delete what is left of one kind; returns how many objects are still there.

        Most kinds go at once, so the count is taken again after deleting: the
        usual namespace is finalized in one pass.
        """
        try:
            items = (await self.ctx.client.list(rt, namespace)).get("items") or []
        except errors.NotFound:
            return 0  # the kind went since discovery was read: nothing of it is left
        if not items:
            return 0
        if any(not o["metadata"].get("deletionTimestamp") for o in items):
            path = resource_path(rt, namespace)
            if "deletecollection" in rt.verbs:
                await self.ctx.client.request(
                    "DELETE", path, json_body={"propagationPolicy": "Background"}
                )
            else:
                for obj in items:
                    try:
                        await self.ctx.client.delete(
                            rt, obj["metadata"]["name"], namespace, propagation_policy="Background"
                        )
                    except errors.NotFound:
                        continue
            items = (await self.ctx.client.list(rt, namespace)).get("items") or []
        return len(items)

    async def _finalize(self, ns: Obj) -> None:
        assert NAMESPACES is not None
        body = copy.deepcopy(ns)
        spec = body.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        try:
            await self.ctx.client.replace(NAMESPACES, body, subresource="finalize")
        except errors.NotFound:
            return
        log.info("namespace %s is empty: finalized", ns["metadata"]["name"])


def _nothing(_changes: KindChanges) -> None:
    """Kinds are read per pass: the follow loop is there for its log lines."""

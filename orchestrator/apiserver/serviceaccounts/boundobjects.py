"""Which ServiceAccounts, Pods, Secrets and Nodes exist, with which uid: a watch-fed cache.

The token authenticator asks on every request whether a token's
ServiceAccount and bound object still exist with the uids the token names,
so the answer comes from memory: for each followed kind, storage key ->
(uid, deletionTimestamp, revision; for a token Secret the digest of its
token), filled by one list and kept by the watch
hub (``hub.changes``), re-listed after a broken watch. A few dozen bytes an
object, not the objects.

A TokenRequest reads its ServiceAccount and pod from the store and hands them
to ``remember`` before answering, so a token is never handed out before the
cache knows what it is bound to (a pod created a moment ago). Per-key
revisions keep that safe: a watch event older than what a key holds is
ignored, a newer one (the deletion) wins.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.serviceaccounts.legacytokens import token_digest
from orchestrator.apiserver.watchcache import Change, WatchHub
from orchestrator.store.base import StoreError

log = logging.getLogger(__name__)

KINDS = ("ServiceAccount", "Pod", "Secret", "Node")
UNGATED = ("Secret",)  # listed in the background: Secret-bound tokens wait for it


@dataclass(frozen=True, slots=True)
class Known:
    uid: str
    deleting_since: str  # metadata.deletionTimestamp, "" while not being deleted
    revision: int
    # ServiceAccounts only, for the admission plugin: automountServiceAccountToken (None =
    # unset) and the names in imagePullSecrets.
    automount: bool | None = None
    pull_secrets: tuple[str, ...] = ()
    # Secrets of type kubernetes.io/service-account-token: SHA-256 of the token they hold
    # (legacytokens.py: a legacy token is good while its Secret holds exactly it).
    token_sha256: str = ""


def _known(obj: Obj, revision: int) -> Known:
    meta = obj.get("metadata") or {}
    automount = obj.get("automountServiceAccountToken")
    pulls = obj.get("imagePullSecrets")
    return Known(
        str(meta.get("uid") or ""),
        str(meta.get("deletionTimestamp") or ""),
        revision,
        automount if isinstance(automount, bool) else None,
        tuple(str(p["name"]) for p in pulls or [] if isinstance(p, dict) and p.get("name"))
        if isinstance(pulls, list)
        else (),
        token_digest(obj),
    )


class BoundObjects:
    def __init__(self, registry: Registry, hub: WatchHub, types: ResourceTypes) -> None:
        self.registry = registry
        self.hub = hub
        self._types = {kind: types.require("", kind) for kind in KINDS}
        self._known: dict[str, Known] = {}
        self.loaded = asyncio.Event()

    def get(self, kind: str, namespace: str, name: str) -> Known | None:
        rt = self._types.get(kind)
        if rt is None:
            return None
        return self._known.get(rt.storage_key(namespace, name))

    def remember(self, kind: str, obj: Obj) -> None:
        """Note an object just read from the store (newer than what the watch has said)."""
        rt = self._types[kind]
        meta = obj.get("metadata") or {}
        key = rt.storage_key(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        revision = int(meta.get("resourceVersion") or 0)
        held = self._known.get(key)
        if held is None or held.revision <= revision:
            self._known[key] = _known(obj, revision)

    def _apply(self, change: Change) -> None:
        held = self._known.get(change.key)
        if held is not None and held.revision > change.revision:
            return  # ``remember`` saw a newer state already
        if change.type == "DELETE":
            self._known.pop(change.key, None)
        else:
            self._known[change.key] = _known(change.obj, change.revision)

    async def _load(self, rt: ResourceType) -> int:
        pause = 0.5
        while True:
            try:
                items, revision, _ = await self.registry.list(rt, "")
                break
            except (errors.APIError, StoreError, OSError) as exc:
                log.warning(
                    "cannot list %s for the token authenticator (%s); retrying in %.0fs",
                    rt.plural,
                    exc,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
        prefix = rt.storage_prefix()
        for key in [k for k in self._known if k.startswith(prefix)]:
            del self._known[key]
        for item in items:
            self.remember(rt.kind, item)
        return revision

    async def _follow(self, rt: ResourceType, ready: asyncio.Event) -> None:
        revision = await self._load(rt)
        ready.set()
        while True:
            try:
                async for change in self.hub.changes(rt.storage_prefix(), revision):
                    if isinstance(change, Change):
                        revision = change.revision
                        self._apply(change)
            except asyncio.CancelledError:
                raise
            except Exception:  # dropped or compacted: list again
                log.info("%s re-listed for the token authenticator", rt.plural)
                revision = await self._load(rt)

    async def run(self) -> None:
        """Follow every kind until cancelled; ``loaded`` is set once each was listed."""
        events = [asyncio.Event() for _ in KINDS]
        async with asyncio.TaskGroup() as tg:
            for kind, ready in zip(KINDS, events, strict=True):
                tg.create_task(self._follow(self._types[kind], ready), name=f"bound {kind}")
            # Secrets do not hold the server back: one no key decrypts (encryption at rest)
            # fails their list until it is fixed, and only Secret-bound tokens need them.
            for kind, ready in zip(KINDS, events, strict=True):
                if kind not in UNGATED:
                    await ready.wait()
            self.loaded.set()

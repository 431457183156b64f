"""What the API server serves right now, read from plain discovery.

``discover_types`` reads ``/api``, ``/api/V``, ``/apis`` and ``/apis/G/V``
for every served version of every group, and returns one ``ResourceType``
per resource (group + plural), as Kubernetes' ``ServerPreferredResources``
does: the group's preferred version is the type's ``version``; other
versions that serve the same plural as the same kind are its
``extra_versions``; a plural served only by a non-preferred version gets a
type of its own in the first version that lists it. One type per resource,
not per group-version, because ``ResourceTypes`` is keyed by (group, kind)
and because a loop that watched every version would see each object once
per version. ``plural/sub`` entries become the ``subresources`` of their
resource, never types of their own.

A group or version that vanishes between the group list and its resource
list (404: a CRD deleted meanwhile) is skipped; any other failure raises,
and callers keep what they knew and try again later.

``ServedKinds`` follows discovery for one control loop: ``refresh()``
re-reads it and returns which kinds (those the loop's ``accept`` admits)
appeared and which went, logging one INFO line for each. A kind is one
(group, version, plural): a change of preferred version is the old kind
going and the new one appearing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

from orchestrator.api import errors
from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)

KindKey = tuple[str, str, str]  # group, version, plural


async def _get(client: APIClient, path: str) -> dict[str, Any] | None:
    """A discovery document, or None when the server no longer serves ``path``."""
    try:
        doc = (await client.request("GET", path)).json()
    except errors.NotFound:
        return None
    return doc if isinstance(doc, dict) else None


def _types_of(group: str, version: str, resources: list[dict[str, Any]]) -> list[ResourceType]:
    """The resources of one group-version as types (subresources folded into their parent)."""
    subs: dict[str, list[str]] = {}
    for entry in resources:
        plural, _, sub = str(entry.get("name", "")).partition("/")
        if sub:
            subs.setdefault(plural, []).append(sub)
    out = []
    for entry in resources:
        name = str(entry.get("name", ""))
        if not name or "/" in name or not entry.get("kind"):
            continue
        out.append(
            ResourceType(
                group=group,
                version=version,
                kind=str(entry["kind"]),
                plural=name,
                namespaced=bool(entry.get("namespaced")),
                short_names=tuple(entry.get("shortNames") or ()),
                categories=tuple(entry.get("categories") or ()),
                subresources=tuple(subs.get(name, ())),
                verbs=tuple(entry.get("verbs") or ()),
                singular_name=str(entry.get("singularName") or ""),
            )
        )
    return out


def types_of_group(group: str, lists: list[tuple[str, list[dict[str, Any]]]]) -> list[ResourceType]:
    """One type per plural of a group, from its (version, APIResourceList.resources) pairs.

    ``lists`` is in preference order: the first version listing a plural is the
    type's version; later ones listing it as the same kind are its extra versions.
    """
    by_plural: dict[str, ResourceType] = {}
    extra: dict[str, list[str]] = {}
    for version, resources in lists:
        for rt in _types_of(group, version, resources):
            first = by_plural.get(rt.plural)
            if first is None:
                by_plural[rt.plural] = rt
                extra[rt.plural] = []
            elif first.kind == rt.kind and version not in extra[rt.plural]:
                extra[rt.plural].append(version)
    return [
        dataclasses.replace(rt, extra_versions=tuple(extra[plural]))
        for plural, rt in by_plural.items()
    ]


def _versions_of(group: dict[str, Any]) -> list[str]:
    """A group's versions, preferred first."""
    versions = [str(v.get("version", "")) for v in group.get("versions") or []]
    preferred = str((group.get("preferredVersion") or {}).get("version", ""))
    ordered = [preferred] if preferred else []
    return ordered + [v for v in versions if v and v != preferred]


async def _group_types(client: APIClient, group: str, versions: list[str]) -> list[ResourceType]:
    base = f"/apis/{group}" if group else "/api"
    docs = await asyncio.gather(*(_get(client, f"{base}/{v}") for v in versions))
    lists = [
        (version, list(doc.get("resources") or []))
        for version, doc in zip(versions, docs, strict=True)
        if doc is not None  # a version that went since the group was listed
    ]
    return types_of_group(group, lists)


async def discover_types(client: APIClient) -> ResourceTypes:
    """Every resource the server serves now, one type per (group, plural)."""
    core = await _get(client, "/api")
    core_versions = [str(v) for v in (core or {}).get("versions") or []]
    groups = (await _get(client, "/apis") or {}).get("groups") or []
    found = await asyncio.gather(
        _group_types(client, "", core_versions),
        *(_group_types(client, str(g.get("name", "")), _versions_of(g)) for g in groups),
    )
    return ResourceTypes(tuple(rt for types in found for rt in types))


def kind_key(rt: ResourceType) -> KindKey:
    return (rt.group, rt.version, rt.plural)


@dataclasses.dataclass(frozen=True)
class KindChanges:
    added: tuple[ResourceType, ...] = ()
    removed: tuple[ResourceType, ...] = ()


class ServedKinds:
    """The kinds one loop handles, kept in step with discovery by ``refresh()``."""

    def __init__(
        self,
        client: APIClient,
        accept: Callable[[ResourceType], bool],
        *,
        owner: str,
        initial: Iterable[ResourceType] = (),
    ) -> None:
        self.client = client
        self.accept = accept
        self.owner = owner  # who is logging: "garbage-collector"
        self._kinds: dict[KindKey, ResourceType] = {kind_key(rt): rt for rt in initial}
        self.types: ResourceTypes = ResourceTypes(tuple(self._kinds.values()))
        self.read = False  # discovery answered at least once: ``kinds`` is what is served
        self._reading = asyncio.Lock()  # one read at a time: each change is logged once

    @property
    def kinds(self) -> list[ResourceType]:
        return list(self._kinds.values())

    async def refresh(self) -> KindChanges:
        """Read discovery once; what appeared and what went since the last time."""
        async with self._reading:
            return await self._refresh()

    async def _refresh(self) -> KindChanges:
        self.types = await discover_types(self.client)
        fresh = {kind_key(rt): rt for rt in self.types if self.accept(rt)}
        added = tuple(rt for key, rt in fresh.items() if key not in self._kinds)
        removed = tuple(rt for key, rt in self._kinds.items() if key not in fresh)
        self._kinds = fresh
        self.read = True
        for rt in added:
            log.info(
                "%s: %s (%s) is served: handling it", self.owner, rt.group_resource, rt.api_version
            )
        for rt in removed:
            log.info(
                "%s: %s (%s) is no longer served: dropped",
                self.owner,
                rt.group_resource,
                rt.api_version,
            )
        return KindChanges(added, removed)

    async def follow(self, interval: float, apply: Callable[[KindChanges], None]) -> None:
        """Refresh every ``interval`` seconds (at once first) and hand changes to ``apply``."""
        while True:
            try:
                changes = await self.refresh()
            except errors.APIError as exc:
                log.warning("%s: discovery failed (%s); keeping the kinds known", self.owner, exc)
            else:
                if changes.added or changes.removed:
                    apply(changes)
            await asyncio.sleep(interval)

"""Which resource a word on the command line means, learned from the server's discovery.

``paas get deploy`` works because the API server lists ``shortNames`` and
``categories`` in its ``APIResourceList``s, as kubectl relies on; nothing here
hard-codes kinds, so the product's own kinds (App, Build, Knative Service)
resolve the moment the server serves them.

``discover`` reads ``/api/v1``, ``/apis`` and every group-version concurrently
into a ``Catalogue`` (frozen); everything after that is pure: ``resolve``
maps a word to resources in kubectl's order of precedence (plural, singular,
short name, kind, then category), with an optional ``.group`` suffix
(``deployments.apps``); a word that is also a category expands to all of its
members. Groups are searched in the server's preferred order, core first, so
``svc`` means core Services and not Knative's unless the group is named.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from orchestrator.api.resources import ResourceType
from orchestrator.client.rest import APIClient


class UnknownKind(LookupError):
    """A word that names no resource the server has."""

    def __init__(self, word: str) -> None:
        super().__init__(f'the server doesn\'t have a resource type "{word}"')
        self.word = word


class UsageError(ValueError):
    """Command-line words that do not make a request."""


class NoKindMatch(LookupError):
    """A manifest's apiVersion/kind that the server does not serve."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f'no matches for kind "{kind}" in version "{api_version}"')


@dataclass(frozen=True, slots=True)
class APIResource:
    """One resource (not a subresource) as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    preferred: bool = True  # in its group's preferred version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def kind_name(self) -> str:
        """``deployment.apps`` or ``configmap``: how kubectl prefixes ``kind/name``."""
        lower = self.kind.lower()
        return f"{lower}.{self.group}" if self.group else lower

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` or ``pods``: how errors and ``delete`` name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def resource_type(self) -> ResourceType:
        """The client's addressing type for this resource."""
        return ResourceType(
            group=self.group,
            version=self.version,
            kind=self.kind,
            plural=self.plural,
            namespaced=self.namespaced,
        )


@dataclass(frozen=True)
class Catalogue:
    """Every resource the server serves, in discovery order (core, then groups)."""

    resources: tuple[APIResource, ...]

    def resolve(self, word: str) -> list[APIResource]:
        """The resources one word names (several for a category such as ``all``)."""
        lowered = word.lower()
        name, _, group = lowered.partition(".")
        candidates = [r for r in self.resources if r.preferred]
        if group:
            in_group = [r for r in self.resources if r.group == group]
            candidates = [r for r in in_group if r.preferred] or in_group
        for match in (
            lambda r: r.plural == name,
            lambda r: r.singular == name,
            lambda r: name in r.short_names,
            lambda r: r.kind.lower() == name,
        ):
            found = [r for r in candidates if match(r)]
            if found:
                return found[:1]
        if not group:
            members = [r for r in candidates if lowered in r.categories]
            if members:
                return members
        raise UnknownKind(word)

    def resolve_many(self, words: str) -> list[APIResource]:
        """``deploy,svc`` -> both; duplicates dropped, order kept."""
        out: list[APIResource] = []
        for word in (w.strip() for w in words.split(",")):
            if not word:
                continue
            for res in self.resolve(word):
                if res not in out:
                    out.append(res)
        if not out:
            raise UnknownKind(words)
        return out

    def for_kind(self, api_version: str, kind: str) -> APIResource:
        """The resource a manifest's ``apiVersion`` and ``kind`` address."""
        group, _, version = api_version.rpartition("/")
        for r in self.resources:
            if r.group == group and r.version == version and r.kind == kind:
                return r
        raise NoKindMatch(api_version, kind)


def catalogue_from_discovery(
    core: dict[str, Any] | None, groups: dict[str, Any] | None, lists: dict[str, dict[str, Any]]
) -> Catalogue:
    """A Catalogue from ``/api/v1``, ``/apis`` and ``{groupVersion: APIResourceList}``."""
    out: list[APIResource] = []
    if core:
        out += _resources(core, "", "v1", preferred=True)
    for g in (groups or {}).get("groups") or []:
        preferred = (g.get("preferredVersion") or {}).get("version", "")
        for v in g.get("versions") or []:
            doc = lists.get(v.get("groupVersion", ""))
            if doc:
                out += _resources(doc, g["name"], v["version"], preferred=v["version"] == preferred)
    return Catalogue(tuple(out))


def _resources(
    doc: dict[str, Any], group: str, version: str, *, preferred: bool
) -> list[APIResource]:
    found = []
    for entry in doc.get("resources") or []:
        name = str(entry.get("name", ""))
        if not name or "/" in name:
            continue
        kind = str(entry.get("kind", ""))
        found.append(
            APIResource(
                group=group,
                version=version,
                kind=kind,
                plural=name,
                singular=str(entry.get("singularName") or kind.lower()),
                namespaced=bool(entry.get("namespaced")),
                short_names=tuple(entry.get("shortNames") or ()),
                categories=tuple(entry.get("categories") or ()),
                preferred=preferred,
            )
        )
    return found


async def discover(client: APIClient) -> Catalogue:
    """Read the server's discovery documents into a Catalogue."""

    async def fetch(path: str) -> dict[str, Any] | None:
        r = await client.request("GET", path)
        body = r.json()
        return body if isinstance(body, dict) else None

    core, groups = await asyncio.gather(fetch("/api/v1"), fetch("/apis"))
    versions = [
        v["groupVersion"]
        for g in (groups or {}).get("groups") or []
        for v in g.get("versions") or []
    ]
    docs = await asyncio.gather(*(fetch(f"/apis/{gv}") for gv in versions))
    lists = {gv: doc for gv, doc in zip(versions, docs, strict=True) if doc}
    return catalogue_from_discovery(core, groups, lists)


@dataclass(frozen=True, slots=True)
class Selection:
    """What one group of command-line words asks for: a kind word and maybe names."""

    kind_word: str  # "deploy", "deploy,svc", "all", "deployments.apps"
    names: tuple[str, ...] = ()


def parse_selections(words: list[str]) -> list[Selection]:
    """``KIND [NAME...]`` or ``KIND/NAME...`` (kubectl's two forms) as Selections."""
    if not words:
        return []
    if "/" in words[0]:
        out: list[Selection] = []
        for word in words:
            kind, sep, name = word.partition("/")
            if not sep or not kind or not name:
                raise UsageError(
                    f"there is no need to specify a resource type as a separate argument when "
                    f'passing arguments in resource/name form (e.g. "paas get resource/<name>" '
                    f'instead of "paas get resource resource/<name>"): {word!r}'
                )
            out.append(Selection(kind, (name,)))
        return out
    for word in words[1:]:
        if "/" in word:
            raise UsageError(
                "there is no need to specify a resource type as a separate argument when "
                f"passing arguments in resource/name form: {word!r}"
            )
    return [Selection(words[0], tuple(words[1:]))]

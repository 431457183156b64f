"""URL grammar: turning a Kubernetes API path into what it addresses.

    /api/v1/{plural}[/{name}[/{sub}]]
    /api/v1/namespaces/{ns}/{plural}[/{name}[/{sub}]]
    /api/v1/namespaces/{name}[/status|/finalize]      (the Namespace itself)
    /api/v1/nodes/{name}/proxy[/{path...}]            (a request for the node agent)
    /apis/{group}/{version}/...                       (same shapes)

Trailing slashes are accepted (the Python client sends them on discovery).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.api.resources import ResourceType, ResourceTypes


@dataclass(frozen=True, slots=True)
class Target:
    """What a resource path addresses."""

    rt: ResourceType
    namespace: str = ""  # "" = all namespaces (collections) or cluster-scoped
    name: str = ""  # "" = the collection
    subresource: str = ""
    proxy_path: str = ""  # nodes/{name}/proxy/{proxy_path}: the path on the node, no leading /


@dataclass(frozen=True, slots=True)
class Discovery:
    """A discovery path: /api, /api/v1, /apis, /apis/{g}, /apis/{g}/{v}."""

    group: str | None = None  # None = the list of groups (or /api)
    version: str | None = None
    legacy: bool = False  # /api or /api/v1


def parse_path(path: str, types: ResourceTypes) -> Target | Discovery | None:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) == 1:
            return Discovery(legacy=True)
        group, version, rest = "", parts[1], parts[2:]
        if not rest:
            return Discovery(group="", version=version, legacy=True)
    elif parts[0] == "apis":
        if len(parts) == 1:
            return Discovery()
        if len(parts) == 2:
            return Discovery(group=parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            return Discovery(group=group, version=version)
    else:
        return None
    return _resource(group, version, rest, types)


def _resource(group: str, version: str, rest: list[str], types: ResourceTypes) -> Target | None:
    namespace = ""
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    proxy_path = ""
    if len(rest) > 3 and rest[2] == "proxy":  # the rest is the path on the proxied server
        proxy_path, rest = "/".join(rest[3:]), rest[:3]
    if len(rest) > 3:
        return None
    rt = types.lookup(group, version, rest[0])
    if rt is None:
        return None
    if namespace and not rt.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in rt.subresources:
        return None
    if name and rt.namespaced and not namespace:
        return None
    return Target(rt=rt, namespace=namespace, name=name, subresource=sub, proxy_path=proxy_path)

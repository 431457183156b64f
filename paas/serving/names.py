"""Names of the objects the serving kinds make, and their hosts and URLs.

Knative's rules: a child is ``<parent><suffix>`` when that fits in 63
characters, else the parent cut to ``31 - len(suffix)`` characters, the md5
of the whole parent and the suffix (``kmeta.ChildName``). Revisions are
``<configuration>-<generation, 5 digits>``, their Deployments
``<revision>-deployment`` and their Services ``<revision>``. Hosts follow
the default domain template ``{{.Name}}.{{.Namespace}}.{{.Domain}}`` and tag
template ``{{.Tag}}-{{.Name}}``.
"""

from __future__ import annotations

import hashlib

LONGEST = 63


def child_name(parent: str, suffix: str) -> str:
    if len(parent) + len(suffix) <= LONGEST:
        return parent + suffix
    digest = hashlib.md5(parent.encode(), usedforsecurity=False).hexdigest()
    return parent[: max(0, 31 - len(suffix))] + digest + suffix


def revision_name(configuration: str, generation: int) -> str:
    return child_name(configuration, f"-{generation:05d}")


def deployment_name(revision: str) -> str:
    return child_name(revision, "-deployment")


def host(route: str, namespace: str, domain: str, tag: str = "") -> str:
    name = f"{tag}-{route}" if tag else route
    return f"{name}.{namespace}.{domain}"


def url(hostname: str, http_port: int) -> str:
    return f"http://{hostname}" + ("" if http_port == 80 else f":{http_port}")


def tag_route_name(route: str, tag: str) -> str:
    return child_name(route, f"-{tag}")

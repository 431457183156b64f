"""What an HTTP request asks, as authorizers see it (Kubernetes' ``RequestInfoFactory``).

Read from the path, method and query alone, before anything else is
looked at, so an unknown resource is authorized like any other name and a
refused caller learns nothing about what exists:

- ``/api/v1/...`` and ``/apis/<group>/<version>/...`` past discovery are
  resource requests: ``[namespaces/<ns>/]<resource>[/<name>[/<sub>]]``, the
  legacy ``watch/`` prefix making the verb ``watch``; a Namespace's own
  ``status`` and ``finalize`` are its subresources.
- GET/HEAD are ``get`` with a name, else ``list`` (``watch`` when the
  query says ``watch`` other than false/0); POST ``create``; PUT
  ``update``; PATCH ``patch``; DELETE ``delete`` or, without a name,
  ``deletecollection``. A list or watch pinned by
  ``fieldSelector=metadata.name=<n>`` carries that name.
- Anything else (``/api``, ``/apis/apps/v1``, ``/openapi/v3``, ``/metrics``)
  is a non-resource request with the lowercase method as its verb.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from orchestrator.apiserver.authz.attributes import Attributes
from orchestrator.apiserver.identity import UserInfo

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


def attributes_of(
    user: UserInfo, method: str, path: str, query: Mapping[str, str] | str
) -> Attributes:
    """The attributes of one request; ``query`` as parsed or as the raw query string."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Attributes(user, method.lower(), resource_request=False, path=path)
    verb = ""
    if rest[0] == "watch":
        verb, rest = "watch", rest[1:]
        if not rest:
            return Attributes(user, method.lower(), resource_request=False, path=path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not verb:
        verb = _verb(method, bool(name), query)
    elif name:
        verb = "watch"  # /watch/<resource>/<name>: a watch of one object
    if not name and verb in ("list", "watch"):
        name = _pinned_name(query)
    return Attributes(
        user,
        verb,
        api_group=group,
        api_version=version,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        path=path,
    )


def _get(query: Mapping[str, str] | str, key: str) -> str | None:
    if isinstance(query, str):
        if key not in query:
            return None
        query = dict(parse_qsl(query, keep_blank_values=True))
    return query.get(key)


def _verb(method: str, named: bool, query: Mapping[str, str] | str) -> str:
    if method in ("GET", "HEAD"):
        if named:
            return "get"
        watch = _get(query, "watch")
        if watch is not None and watch.lower() not in ("false", "0"):
            return "watch"
        return "list"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return _VERBS.get(method, method.lower())


def _pinned_name(query: Mapping[str, str] | str) -> str:
    """The name a ``metadata.name=<n>`` (or ``==``) field selector pins, else ""."""
    selector = _get(query, "fieldSelector")
    if not selector:
        return ""
    for requirement in selector.split(","):
        field, op, value = requirement.partition("==")
        if not op:
            field, op, value = requirement.partition("=")
        if op and field.strip() == "metadata.name" and not field.endswith("!"):
            return value.strip()
    return ""

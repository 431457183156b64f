"""``/openapi/v3``: what ``kubectl explain`` and ``kubectl apply`` read.

Kubernetes publishes one OpenAPI v3 document per group-version and an index
naming them (kube-openapi ``handler3``)::

    GET /openapi/v3
        {"paths": {"apis/G/V": {"serverRelativeURL": "/openapi/v3/apis/G/V?hash=<HEX>"}}}
    GET /openapi/v3/apis/G/V?hash=<HEX>
        the document; ETag "<HEX>"

``<HEX>`` is the upper-case hex SHA-512 of the document's bytes, so a client
that follows the index URL can cache the answer forever: a request whose
``hash`` matches gets ``Cache-Control: public, immutable``; a stale one is
redirected (301) to the current URL. ``document_reply`` makes that decision;
the bytes come from ``document_bytes`` (canonical JSON: sorted keys, compact)
so the hash is stable across processes and restarts.

A custom kind's document has what the CRD document of Kubernetes has
(apiextensions ``controller/openapi/builder``):

- ``components.schemas`` named by the reversed group
  (``com.example.stable.v1.CronTab`` and ``...CronTabList``): the version's
  ``openAPIV3Schema`` plus ``apiVersion``, ``kind`` and ``metadata`` (a
  ``$ref`` to ``ObjectMeta``), tagged ``x-kubernetes-group-version-kind``;
  the meta schemas they refer to come from ``openapi_meta``;
- ``paths`` for every route, each operation carrying
  ``x-kubernetes-group-version-kind`` (one map, not a list). ``kubectl
  explain`` finds the kind through these operations and then the schema
  through the components; without them it says ``GVR (...) not found``;
- PATCH request bodies of a custom kind list json-patch, merge-patch and
  apply-patch+yaml only. ``kubectl apply`` reads this list: were
  strategic-merge-patch in it, kubectl would send one and get 415 back. A
  built-in kind's list it too, with the merge keys in its schema
  (``openapi_builtin``), as Kubernetes does. PATCH also lists the
  ``fieldValidation`` query parameter, which tells kubectl the server
  validates fields itself (otherwise it validates client-side from
  ``/openapi/v2``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

from orchestrator.apiserver.openapi_meta import (
    DELETE_OPTIONS,
    LIST_META,
    OBJECT_META,
    PATCH,
    SCALE,
    STATUS,
    meta_schemas,
    ref,
)

JSON_TYPES = ("application/json", "application/yaml")
PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)
STRATEGIC = "application/strategic-merge-patch+json"
_API_VERSION = {"type": "string", "description": "The versioned schema of this object."}
_KIND = {"type": "string", "description": "The REST resource this object represents."}
_METADATA_DOC = "Standard object's metadata."


@dataclass(frozen=True)
class CustomKindDoc:
    """What the document needs of one served kind in one version of a CRD."""

    kind: str
    list_kind: str
    plural: str
    singular: str
    namespaced: bool
    schema: Mapping[str, Any] | None  # the version's openAPIV3Schema
    has_status: bool = False
    has_scale: bool = False
    model_prefix: str = ""  # a built-in kind's (``io.k8s.api.apps``); "" = the reversed group
    builtin: bool = False  # built-in kinds also take strategic merge patches


def model_name(group: str, version: str, kind: str, prefix: str = "") -> str:
    """``com.example.stable.v1.CronTab`` for ``stable.example.com``, ``v1``, ``CronTab``."""
    return ".".join([prefix or ".".join(reversed(group.split("."))), version, kind])


def _model(group: str, version: str, doc: CustomKindDoc, kind: str) -> str:
    return model_name(group, version, kind, doc.model_prefix)


# -- schemas ---------------------------------------------------------------------


def _add_embedded_meta(schema: Any) -> None:
    """Give every ``x-kubernetes-embedded-resource`` object apiVersion, kind and metadata."""
    if not isinstance(schema, dict):
        return
    for child in (schema.get("properties") or {}).values():
        _add_embedded_meta(child)
    _add_embedded_meta(schema.get("items"))
    _add_embedded_meta(schema.get("additionalProperties"))
    if schema.get("x-kubernetes-embedded-resource") is True:
        properties = schema.setdefault("properties", {})
        properties.update(
            apiVersion=dict(_API_VERSION),
            kind=dict(_KIND),
            metadata=ref(OBJECT_META, _METADATA_DOC),
        )
        required = schema.setdefault("required", [])
        required.extend(name for name in ("kind", "apiVersion") if name not in required)


def _kind_schema(group: str, version: str, doc: CustomKindDoc) -> dict[str, Any]:
    if not doc.schema:
        schema: dict[str, Any] = {
            "type": "object"
        }  # no fields: kubectl must not think none allowed
    else:
        schema = copy.deepcopy(dict(doc.schema))
        _add_embedded_meta(schema)
        properties = schema.setdefault("properties", {})
        properties["metadata"] = ref(OBJECT_META, _METADATA_DOC)
        properties["apiVersion"] = dict(_API_VERSION)
        properties["kind"] = dict(_KIND)
    schema["x-kubernetes-group-version-kind"] = [
        {"group": group, "kind": doc.kind, "version": version}
    ]
    return schema


def _list_schema(group: str, version: str, doc: CustomKindDoc) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"{doc.list_kind} is a list of {doc.kind}",
        "required": ["items"],
        "properties": {
            "apiVersion": dict(_API_VERSION),
            "items": {
                "type": "array",
                "items": ref(_model(group, version, doc, doc.kind)),
                "description": f"List of {doc.plural}.",
            },
            "kind": dict(_KIND),
            "metadata": ref(LIST_META, "Standard list metadata."),
        },
        "x-kubernetes-group-version-kind": [
            {"group": group, "kind": doc.list_kind, "version": version}
        ],
    }


# -- operations ------------------------------------------------------------------


def _query(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


_WRITE = [
    _query("dryRun", "string", "All: validate and admit, but do not persist."),
    _query("fieldManager", "string", "Name of the actor making the change."),
    _query("fieldValidation", "string", "Ignore, Warn or Strict: what to do with unknown fields."),
]
_QUERY: Mapping[str, list[dict[str, Any]]] = {
    "get": [_query("resourceVersion", "string", "Read at least this recent a version.")],
    "list": [
        _query("allowWatchBookmarks", "boolean", "Send BOOKMARK events while watching."),
        _query("continue", "string", "The token of the page to continue from."),
        _query("fieldSelector", "string", "Select objects by fields."),
        _query("labelSelector", "string", "Select objects by labels."),
        _query("limit", "integer", "Answer at most this many items, then a continue token."),
        _query("resourceVersion", "string", "Read at least this recent a version."),
        _query("resourceVersionMatch", "string", "How resourceVersion applies."),
        _query("sendInitialEvents", "boolean", "Start a watch with the current state."),
        _query("timeoutSeconds", "integer", "End a list or watch after this long."),
        _query("watch", "boolean", "Stream changes instead of a list."),
    ],
    "post": _WRITE,
    "put": _WRITE,
    "patch": [*_WRITE, _query("force", "boolean", "Apply: take over conflicting fields.")],
    "delete": [
        _query("dryRun", "string", "All: check the delete, but do not persist it."),
        _query("gracePeriodSeconds", "integer", "Seconds before the object is deleted."),
        _query("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
        _query("propagationPolicy", "string", "Orphan, Background or Foreground."),
    ],
}
_QUERY = {**_QUERY, "deletecollection": _QUERY["list"]}


def _content(model: str, media_types: Iterable[str] = JSON_TYPES) -> dict[str, Any]:
    return {media_type: {"schema": ref(model)} for media_type in media_types}


def _camel(text: str, first_upper: bool) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    joined = "".join(w[:1].upper() + w[1:] for w in words)
    return joined if first_upper else joined[:1].lower() + joined[1:]


@dataclass(frozen=True)
class _Route:
    method: str
    action: str  # x-kubernetes-action
    verb: str  # of the description and operationId
    model: str  # what it answers
    reads: str = ""  # what its body is


def _operation(
    group: str, version: str, doc: CustomKindDoc, route: _Route, subresource: str, scope: str
) -> dict[str, Any]:
    kind = doc.kind
    group_word = group.removesuffix(".k8s.io") or "core"
    article = "an " if kind[:1].lower() in "aeiou" else "a "
    sub = f" {subresource} of" if subresource else ""
    description = {
        "list": f"list{sub} objects of kind {kind}",
        "create": f"create{sub} {article}{kind}",
        "delete": f"delete{sub} {article}{kind}",
        "deletecollection": f"delete collection of{sub} {kind}",
        "patch": f"partially update{sub} the specified {kind}",
    }.get(route.verb, f"{route.verb}{sub} the specified {kind}")
    operation: dict[str, Any] = {
        "tags": [f"{_camel(group_word, False)}_{version}"],
        "description": description,
        "operationId": route.verb
        + _camel(group_word, True)
        + _camel(version, True)
        + scope.format(kind=kind + _camel(subresource, True)),
        "parameters": _QUERY[route.action],
        "responses": {"200": {"description": "OK", "content": _content(route.model)}},
        "x-kubernetes-action": route.action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    }
    if route.reads:
        media_types: tuple[str, ...] = JSON_TYPES
        if route.method == "patch":
            media_types = (*PATCH_TYPES, STRATEGIC) if doc.builtin else PATCH_TYPES
        operation["requestBody"] = {"content": _content(route.reads, media_types), "required": True}
    if route.method == "post":
        operation["responses"]["201"] = {"description": "Created", "content": _content(route.model)}
    if route.method in ("post", "delete"):
        operation["responses"]["202"] = {
            "description": "Accepted",
            "content": _content(route.model),
        }
    if route.method == "put":
        operation["responses"]["201"] = {"description": "Created", "content": _content(route.model)}
    operation["responses"]["401"] = {"description": "Unauthorized"}
    return operation


def _path_parameters(path: str, kind: str) -> list[dict[str, Any]]:
    parameters = []
    for name, description in (
        ("name", f"name of the {kind}"),
        ("namespace", "object name and auth scope, such as for teams and projects"),
    ):
        if "{" + name + "}" in path:
            parameters.append(
                {
                    "name": name,
                    "in": "path",
                    "description": description,
                    "required": True,
                    "schema": {"type": "string", "uniqueItems": True},
                }
            )
    return parameters


def _paths(group: str, version: str, doc: CustomKindDoc) -> dict[str, Any]:
    one = _model(group, version, doc, doc.kind)
    many = _model(group, version, doc, doc.list_kind)
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    scope = "Namespaced{kind}" if doc.namespaced else "{kind}"
    root = (
        f"{base}/namespaces/{{namespace}}/{doc.plural}"
        if doc.namespaced
        else f"{base}/{doc.plural}"
    )
    item = [
        _Route("get", "get", "read", one),
        _Route("put", "put", "replace", one, reads=one),
        _Route("delete", "delete", "delete", STATUS, reads=DELETE_OPTIONS),
        _Route("patch", "patch", "patch", one, reads=PATCH),
    ]
    table: list[tuple[str, str, list[_Route]]] = [
        (
            root,
            "",
            [
                _Route("get", "list", "list", many),
                _Route("post", "post", "create", one, reads=one),
                _Route("delete", "deletecollection", "deletecollection", STATUS),
            ],
        ),
        (f"{root}/{{name}}", "", item),
    ]
    if doc.has_status:
        table.append((f"{root}/{{name}}/status", "status", [r for r in item if r.verb != "delete"]))
    if doc.has_scale:
        scale = [
            _Route("get", "get", "read", SCALE),
            _Route("put", "put", "replace", SCALE, reads=SCALE),
            _Route("patch", "patch", "patch", SCALE, reads=PATCH),
        ]
        table.append((f"{root}/{{name}}/scale", "scale", scale))
    paths: dict[str, Any] = {}
    if doc.namespaced:
        everywhere = _operation(
            group, version, doc, _Route("get", "list", "list", many), "", "{kind}ForAllNamespaces"
        )
        paths[f"{base}/{doc.plural}"] = {
            "get": everywhere,
            "parameters": _path_parameters("", doc.kind),
        }
    for path, subresource, routes in table:
        entry: dict[str, Any] = {
            route.method: _operation(group, version, doc, route, subresource, scope)
            for route in routes
        }
        if "delete" in entry and entry["delete"]["x-kubernetes-action"] == "delete":
            entry["delete"]["requestBody"]["required"] = False
        entry["parameters"] = _path_parameters(path, doc.kind)
        paths[path] = entry
    return paths


def group_version_document(group: str, version: str, kinds: list[CustomKindDoc]) -> dict[str, Any]:
    """The OpenAPI v3 document of one custom group-version serving ``kinds``."""
    schemas = meta_schemas(scale=any(doc.has_scale for doc in kinds))
    paths: dict[str, Any] = {}
    for doc in kinds:
        schemas[_model(group, version, doc, doc.kind)] = _kind_schema(group, version, doc)
        schemas[_model(group, version, doc, doc.list_kind)] = _list_schema(group, version, doc)
        paths.update(_paths(group, version, doc))
    title = "Kubernetes" if any(doc.builtin for doc in kinds) else "Kubernetes CRD Swagger"
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


# -- serving: bytes, hashes, index, caching ---------------------------------------


def document_bytes(doc: Mapping[str, Any]) -> bytes:
    """The canonical encoding served and hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def document_hash(doc: Mapping[str, Any] | bytes) -> str:
    """Upper-case hex SHA-512 of the document's bytes, as Kubernetes' ETag and ``hash``."""
    data = doc if isinstance(doc, bytes) else document_bytes(doc)
    return hashlib.sha512(data).hexdigest().upper()


def server_relative_url(path: str, digest: str) -> str:
    """``/openapi/v3/apis/G/V?hash=<HEX>`` for index key ``apis/G/V``."""
    return f"/openapi/v3/{path.strip('/')}?hash={digest}"


def index(group_versions: Mapping[str, Mapping[str, Any] | bytes]) -> dict[str, Any]:
    """The ``/openapi/v3`` index, keyed ``apis/G/V`` (``api/v1`` for core), one URL each."""
    return {
        "paths": {
            path.strip("/"): {"serverRelativeURL": server_relative_url(path, document_hash(doc))}
            for path, doc in sorted(group_versions.items())
        }
    }


def accepts_json(accept: str) -> bool:
    """Whether an Accept header allows the JSON document (kube answers 406 otherwise)."""
    if not accept.strip():
        return True
    for clause in accept.split(","):
        media = clause.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", "application/json"):
            return True
    return False


@dataclass(frozen=True)
class DocumentReply:
    """How to answer a request for one document: status and headers (the body is the bytes)."""

    status: int  # 200, 301 to the current hash, or 304 for a matching If-None-Match
    headers: Mapping[str, str]


def document_reply(
    path: str, digest: str, requested_hash: str | None, *, now: datetime, if_none_match: str = ""
) -> DocumentReply:
    """Answer ``GET /openapi/v3/<path>[?hash=...]`` for the document hashed ``digest``."""
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Vary": "Accept", "Content-Type": "application/json"}
    if requested_hash and requested_hash != digest:
        return DocumentReply(301, {"Location": server_relative_url(path, digest)})
    if requested_hash:
        expires = format_datetime(now + timedelta(days=365), usegmt=True)
        headers |= {"Cache-Control": "public, immutable", "Expires": expires}
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    if etag in tags or "*" in tags:
        return DocumentReply(304, headers)
    return DocumentReply(200, headers)

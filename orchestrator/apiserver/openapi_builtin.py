"""OpenAPI v3 schemas of the built-in kinds, from the tables the server validates with.

``kind_doc(rt, version)`` turns a built-in kind's ``schema_kinds`` table into
the ``CustomKindDoc`` that ``openapi.group_version_document`` publishes, so
``kubectl explain deployment.spec.template.spec.containers`` (kubectl 1.27+
reads ``/openapi/v3`` for explain) finds the kind and walks its fields.

The tables hold structure only; the mapping to OpenAPI is:

- a known struct is an ``object`` with ``properties``; an open one also
  keeps unknown fields (``x-kubernetes-preserve-unknown-fields``), as does a
  free-form ``OBJECT`` node (statuses, affinity...): explain shows it as an
  object without fields rather than inventing them;
- lists and maps are ``array`` and ``additionalProperties``; the lists that
  strategic merge patch merges by key carry Kubernetes' patch markers (the
  merge key is a fact of the wire format: kubectl reads it to compute an
  apply patch), every other list is replaced whole;
- int-or-string and quantities are ``x-kubernetes-int-or-string``;
- ``metadata`` anywhere is a ``$ref`` to ``ObjectMeta``.

Descriptions are our own words (``openapi_text``), for the kinds and the
fields people look up; a field without one is still listed with its type.
Schema names follow Kubernetes' (``io.k8s.api.apps.v1.Deployment``).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import schema_kinds
from orchestrator.api.autoscaling import schema as autoscaling_schema
from orchestrator.api.resources import ResourceType
from orchestrator.api.schema_types import (
    ANY,
    BOOLEAN,
    INT_OR_STRING,
    INTEGER,
    NUMBER,
    OBJECT,
    QUANTITY,
    STRING,
    FieldType,
    ListOf,
    MapOf,
    Struct,
)
from orchestrator.apiserver.openapi import CustomKindDoc
from orchestrator.apiserver.openapi_meta import OBJECT_META, ref
from orchestrator.apiserver.openapi_text import FIELD_TEXT, KIND_TEXT

# Kubernetes' Go package of each group's types, which names its schemas.
_PACKAGES = {
    "": "io.k8s.api.core",
    "apps": "io.k8s.api.apps",
    "autoscaling": "io.k8s.api.autoscaling",
    "batch": "io.k8s.api.batch",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "networking.k8s.io": "io.k8s.api.networking",
}

# Strategic merge patch keys of the lists that merge (Kubernetes' patchMergeKey tags).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
}
_SCALARS: dict[str, dict[str, Any]] = {
    STRING: {"type": "string"},
    INTEGER: {"type": "integer", "format": "int32"},
    BOOLEAN: {"type": "boolean"},
    NUMBER: {"type": "number", "format": "double"},
    INT_OR_STRING: {"x-kubernetes-int-or-string": True},
    QUANTITY: {"x-kubernetes-int-or-string": True},
    OBJECT: {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    ANY: {"x-kubernetes-preserve-unknown-fields": True},
}


def _table_of(rt: ResourceType) -> Struct | None:
    """The schema table of a built-in kind in ``rt``'s version (HPAs have one per version)."""
    if (rt.group, rt.kind) == ("autoscaling", "HorizontalPodAutoscaler"):
        return autoscaling_schema.V1 if rt.version == "v1" else autoscaling_schema.V2
    known = schema_kinds.KINDS.get(rt.kind)
    return known.root if known is not None and known.group == rt.group else None


def kind_doc(rt: ResourceType, version: str) -> CustomKindDoc | None:
    """The document entry of a built-in kind with a schema table (None for the others)."""
    table = _table_of(rt)
    if table is None or "list" not in rt.verbs:
        return None
    root = schema_of(table, "")
    text = KIND_TEXT.get(rt.kind)
    if text:
        root["description"] = text
    return CustomKindDoc(
        kind=rt.kind,
        list_kind=rt.list_kind,
        plural=rt.plural,
        singular=rt.singular,
        namespaced=rt.namespaced,
        schema=root,
        has_status="status" in rt.subresources,
        has_scale="scale" in rt.subresources,
        model_prefix=_PACKAGES.get(rt.group, ""),
        builtin=True,
    )


def schema_of(node: FieldType, name: str) -> dict[str, Any]:
    """The OpenAPI v3 schema of one table node; ``name`` is the field it describes."""
    if node is schema_kinds.OBJECT_META:
        return ref(OBJECT_META, FIELD_TEXT.get("metadata", ""))
    if isinstance(node, str):
        schema = dict(_SCALARS.get(node, _SCALARS[ANY]))
    elif isinstance(node, Struct):
        schema = {
            "type": "object",
            "properties": {field: schema_of(child, field) for field, child in node.fields.items()},
        }
        if node.open:
            schema["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(node, ListOf):
        schema = {"type": "array", "items": schema_of(node.item, "")}
        key = _merge_key(name, node.item)
        if key:
            schema["x-kubernetes-patch-merge-key"] = key
            schema["x-kubernetes-patch-strategy"] = "merge"
    else:
        assert isinstance(node, MapOf)
        schema = {"type": "object", "additionalProperties": schema_of(node.value, "")}
    text = FIELD_TEXT.get(name)
    if text:
        schema["description"] = text
    return schema


def _merge_key(name: str, item: FieldType) -> str:
    if name == "ports" and isinstance(item, Struct):  # a container's and a Service's merge
        if "containerPort" in item.fields:
            return "containerPort"
        return "port" if "targetPort" in item.fields else ""  # an Endpoints' are replaced
    return _MERGE_KEYS.get(name, "")

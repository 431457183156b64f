"""Validating a custom resource against its version's schema.

``validate`` returns what Kubernetes' custom resource strategy finds,
in its order:

1. the OpenAPI schema errors (``openapi_validator``; paths as kube-openapi
   writes them, ``spec.labels.key`` for a map value);
2. embedded resources (``embedded``; ``field.Path`` paths, ``spec.map[key]``);
3. duplicates in ``set``/``map`` lists (``listtypes``).

(2) and (3) share one walk; in total the object is walked twice.

Like Kubernetes, the whole object is validated: root ``apiVersion``,
``kind`` and ``metadata`` meet whatever the schema declares for them
(structural schemas may only restrict ``metadata.name`` and
``generateName``), while ObjectMeta's own rules are left to the API server.
Nothing is mutated. ``blocks_cel`` says whether CEL rules must be skipped
because of these errors, as Kubernetes skips them (§3 step 10).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.openapi.embedded import check_resource
from orchestrator.api.openapi.listtypes import check_list
from orchestrator.api.openapi.openapi_errors import Violation, to_causes
from orchestrator.api.openapi.openapi_validator import walk
from orchestrator.api.validation_causes import (
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE_INVALID,
    Cause,
)

BLOCKING_REASONS = frozenset({NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID})
CEL_SKIPPED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


def validate(obj: Any, schema: dict[str, Any], field: str = "") -> list[Cause]:
    """Every violation of ``schema`` by ``obj``, paths prefixed by ``field``."""
    embedded: list[Cause] = []
    lists: list[Cause] = []
    _structure(obj, schema, field, embedded, lists)
    return schema_causes(obj, schema, field) + embedded + lists


def schema_causes(value: Any, schema: dict[str, Any], field: str = "") -> list[Cause]:
    """Only the OpenAPI keyword violations (what CRD default values are checked with)."""
    found: list[Violation] = []
    walk(value, schema, "", found)
    return to_causes(found, field) if found else []


def _structure(
    value: Any, schema: dict[str, Any], path: str, embedded: list[Cause], lists: list[Cause]
) -> None:
    # one walk for the two checks Kubernetes makes in two (embedded.py, listtypes.py)
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            embedded.extend(check_resource(value, path))
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if not isinstance(item, dict | list):
                continue
            child = properties.get(key) if properties else None
            if child is not None:
                _structure(item, child, f"{path}.{key}" if path else key, embedded, lists)
            elif isinstance(extra, dict):
                _structure(item, extra, f"{path}[{key}]", embedded, lists)
    elif isinstance(value, list):
        if "x-kubernetes-list-type" in schema:
            lists.extend(check_list(value, schema, path))
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                if isinstance(item, dict | list):
                    _structure(item, items, f"{path}[{i}]", embedded, lists)


def blocks_cel(causes: list[Cause]) -> bool:
    """Whether CEL rules are skipped: a NotSupported/Required/TooLong/TooMany/TypeInvalid cause."""
    return any(cause.reason in BLOCKING_REASONS for cause in causes)

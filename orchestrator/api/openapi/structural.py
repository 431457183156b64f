"""Whether a CRD version's ``openAPIV3Schema`` may be served (§1.2).

``check_structural`` returns every reason Kubernetes would refuse the
schema, in its order:

1. with the status subresource, only some keywords at the root
   (``root_keywords``); the first offending one is reported;
2. ``nullable`` at the root;
3. if the schema converts to Kubernetes' structural form (no ``$ref``,
   ``id``, ``$schema``, ``patternProperties``, ``definitions``,
   ``dependencies``, ``additionalItems``, array ``items`` or preserve
   ``false`` anywhere): the structural rules (``structural_invariants``),
   or, if those hold, the defaults (``structural_defaults``);
4. the keyword rules of every node (``keywords``).

``format_warnings`` (from ``formats``) gives the warnings a schema earns.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.api.openapi.formats import format_warnings
from orchestrator.api.openapi.keywords import keyword_causes
from orchestrator.api.openapi.structural_defaults import default_causes
from orchestrator.api.openapi.structural_invariants import structural_causes
from orchestrator.api.validation_causes import Cause, forbidden, invalid

__all__ = ["check_structural", "format_warnings"]

UNCONVERTIBLE = (
    "id",
    "$schema",
    "$ref",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "definitions",
)
# JSONSchemaProps fields in Go struct order, with the JSON keys they come from
STRUCT_ORDER = (
    ("ID", "id"), ("Schema", "$schema"), ("Ref", "$ref"), ("Description", "description"),
    ("Type", "type"), ("Nullable", "nullable"), ("Format", "format"), ("Title", "title"),
    ("Default", "default"), ("Maximum", "maximum"), ("ExclusiveMaximum", "exclusiveMaximum"),
    ("Minimum", "minimum"), ("ExclusiveMinimum", "exclusiveMinimum"), ("MaxLength", "maxLength"),
    ("MinLength", "minLength"), ("Pattern", "pattern"), ("MaxItems", "maxItems"),
    ("MinItems", "minItems"), ("UniqueItems", "uniqueItems"), ("MultipleOf", "multipleOf"),
    ("Enum", "enum"), ("MaxProperties", "maxProperties"), ("MinProperties", "minProperties"),
    ("Required", "required"), ("Items", "items"), ("AllOf", "allOf"), ("OneOf", "oneOf"),
    ("AnyOf", "anyOf"), ("Not", "not"), ("Properties", "properties"),
    ("AdditionalProperties", "additionalProperties"), ("PatternProperties", "patternProperties"),
    ("Dependencies", "dependencies"), ("AdditionalItems", "additionalItems"),
    ("Definitions", "definitions"), ("ExternalDocs", "externalDocs"), ("Example", "example"),
    ("XPreserveUnknownFields", "x-kubernetes-preserve-unknown-fields"),
    ("XEmbeddedResource", "x-kubernetes-embedded-resource"),
    ("XIntOrString", "x-kubernetes-int-or-string"), ("XListMapKeys", "x-kubernetes-list-map-keys"),
    ("XListType", "x-kubernetes-list-type"), ("XMapType", "x-kubernetes-map-type"),
    ("XValidations", "x-kubernetes-validations"),
)  # fmt: skip
STATUS_ROOT = "at the root of the schema if the status subresource is enabled"
ROOT_KEYWORDS_WITH_STATUS = (
    "Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum",
    "ExclusiveMinimum", "MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems", "UniqueItems",
    "MultipleOf", "Required", "Items", "Properties", "ExternalDocs", "Example",
    "XPreserveUnknownFields", "XValidations",
)  # fmt: skip


def check_structural(schema: Any, field: str, *, status_subresource: bool = False) -> list[Cause]:
    """Every reason the ``openAPIV3Schema`` at ``field`` is refused (empty: accepted)."""
    if not isinstance(schema, dict):
        return [invalid(field, "", "must be an object")] if schema is not None else []
    causes: list[Cause] = []
    if status_subresource:
        causes += _status_root(schema, field)
    if schema.get("nullable") is True:
        causes.append(forbidden(f"{field}.nullable", "nullable cannot be true at the root"))
    if _convertible(schema):
        causes += structural_causes(schema, field) or default_causes(schema, field)
    return causes + keyword_causes(schema, field)


def _status_root(schema: dict[str, Any], field: str) -> list[Cause]:
    for name, key in STRUCT_ORDER:
        if _is_zero(schema.get(key)):
            continue
        if name == "Type":
            if schema[key] != "object":
                detail = f'only "object" is allowed as the type {STATUS_ROOT}'
                return [invalid(f"{field}.type", schema[key], detail)]
            continue
        if name not in ROOT_KEYWORDS_WITH_STATUS:
            allowed = " ".join(ROOT_KEYWORDS_WITH_STATUS)
            detail = f"only [{allowed}] fields are allowed {STATUS_ROOT}"
            return [invalid(field, json.dumps(schema, separators=(",", ":")), detail)]
    return []


def _is_zero(value: Any) -> bool:
    # Go's zero value: nil pointers, maps and slices, "" and false (a 0 bound is a set pointer)
    return value is None or value is False or (isinstance(value, str) and not value)


def _convertible(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    if any(key in schema for key in UNCONVERTIBLE) or isinstance(schema.get("items"), list):
        return False
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        return False
    children: list[Any] = [
        schema.get("items"),
        schema.get("not"),
        schema.get("additionalProperties"),
    ]
    for key in ("allOf", "anyOf", "oneOf"):
        children += schema.get(key) or []
    properties = schema.get("properties")
    if isinstance(properties, dict):
        children += properties.values()
    return all(_convertible(child) for child in children)

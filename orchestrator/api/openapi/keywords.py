"""Keyword rules for every node of a CRD schema (``ValidateCustomResourceDefinitionOpenAPISchema``).

Independent of structurality, each node may not use what Kubernetes never
supports (``$ref``, ``id``, ``patternProperties``, ``definitions``,
``dependencies``, ``additionalItems``, array ``items``, ``type: null`` or
unknown type names, ``uniqueItems: true``), may not mix ``properties`` with
an ``additionalProperties`` other than ``true``, may not say
``x-kubernetes-preserve-unknown-fields: false``, and must use the list and
map extensions consistently (``x-kubernetes-list-type`` only on arrays, map
lists with scalar, required-or-defaulted, non-nullable keys; set items
atomic). Defaults are forbidden in the root's ``apiVersion``, ``kind`` and
``metadata`` and under ``additionalProperties`` inside them.

Nodes are visited in document order (Kubernetes walks Go maps, in no order).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from orchestrator.api.openapi.structural_defaults import invalid_value
from orchestrator.api.validation_causes import Cause, forbidden, invalid, not_supported, required

TYPES = ("array", "boolean", "integer", "number", "object", "string")
META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
UNSUPPORTED = (
    ("id", "id is not supported"),
    ("additionalItems", "additionalItems is not supported"),
    ("patternProperties", "patternProperties is not supported"),
    ("definitions", "definitions is not supported"),
    ("dependencies", "dependencies is not supported"),
    ("$ref", "$ref is not supported"),
)
SET_ITEMS = "must be atomic as item of a list with x-kubernetes-list-type=set"


@dataclass(frozen=True)
class _Context:
    """What the enclosing nodes decide for this one."""

    defaults_forbidden: str | None = None
    inside_meta: bool = False


def keyword_causes(schema: dict[str, Any], path: str) -> list[Cause]:
    """The keyword violations of every node under ``schema`` (at ``path``)."""
    causes: list[Cause] = []
    _node(schema, path, _Context(), True, causes)
    return causes


def _node(s: Any, path: str, ctx: _Context, is_root: bool, causes: list[Cause]) -> None:
    if not isinstance(s, dict):
        return
    _own(s, path, ctx, causes)
    properties: dict[str, Any] = s["properties"] if isinstance(s.get("properties"), dict) else {}
    extra = s.get("additionalProperties")
    if extra is not None:
        if properties and extra is not True:
            causes.append(
                forbidden(
                    f"{path}.additionalProperties",
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        sub = ctx
        if ctx.inside_meta:
            sub = replace(
                ctx, defaults_forbidden="inside additionalProperties applying to object metadata"
            )
        _node(extra, f"{path}.additionalProperties", sub, False, causes)
    embedded = s.get("x-kubernetes-embedded-resource") is True
    for key, child in properties.items():
        sub = ctx
        if (is_root or embedded) and key in META_FIELDS:
            sub = replace(sub, inside_meta=True)
            if is_root:
                sub = replace(sub, defaults_forbidden=f"in top-level {key}")
        _node(child, f"{path}.properties[{key}]", sub, False, causes)
    _node(s.get("not"), f"{path}.not", ctx, False, causes)
    for junctor in ("allOf", "oneOf", "anyOf"):
        for i, branch in enumerate(_list(s.get(junctor))):
            _node(branch, f"{path}.{junctor}[{i}]", ctx, False, causes)
    definitions = s.get("definitions")
    if isinstance(definitions, dict):
        for key, child in definitions.items():
            _node(child, f"{path}.definitions[{key}]", ctx, False, causes)
    items = s.get("items")
    if isinstance(items, dict):
        _node(items, f"{path}.items", ctx, False, causes)
    for i, item in enumerate(_list(items)):
        _node(item, f"{path}.items[{i}]", ctx, False, causes)
    dependencies = s.get("dependencies")
    if isinstance(dependencies, dict):
        for key, child in dependencies.items():
            _node(child, f"{path}.dependencies[{key}]", ctx, False, causes)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        causes.append(
            invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"
            )
        )
    _map_type(s, path, causes)
    _list_type(s, path, causes)


def _own(s: dict[str, Any], path: str, ctx: _Context, causes: list[Cause]) -> None:
    type_name = s.get("type")
    if type_name and type_name not in TYPES:
        causes.append(not_supported(f"{path}.type", type_name, TYPES))
    if s.get("default") is not None and ctx.defaults_forbidden is not None:
        causes.append(forbidden(f"{path}.default", f"must not be set {ctx.defaults_forbidden}"))
    for key, detail in UNSUPPORTED:
        if s.get(key) not in (None, "", {}):
            causes.append(forbidden(f"{path}.{key}", detail))
    if type_name == "null":
        causes.append(
            forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative")
        )
    if isinstance(s.get("items"), list) and s["items"]:
        causes.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if ctx.inside_meta and s.get("x-kubernetes-embedded-resource") is True:
        causes.append(
            forbidden(
                f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta"
            )
        )
    if s.get("uniqueItems") is True:
        detail = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        causes.append(forbidden(f"{path}.uniqueItems", detail))


def _map_type(s: dict[str, Any], path: str, causes: list[Cause]) -> None:
    map_type = s.get("x-kubernetes-map-type")
    if map_type is None:
        return
    _needs_type(s, "object", "must be object if x-kubernetes-map-type is specified", path, causes)
    if map_type not in ("atomic", "granular"):
        causes.append(
            not_supported(f"{path}.x-kubernetes-map-type", map_type, ["atomic", "granular"])
        )


def _needs_type(
    s: dict[str, Any], wanted: str, detail: str, path: str, causes: list[Cause]
) -> bool:
    type_name = s.get("type") or ""
    if type_name == wanted:
        return True
    if type_name:
        causes.append(invalid(f"{path}.type", type_name, detail))
    else:
        causes.append(required(f"{path}.type", detail))
    return False


def _list_type(s: dict[str, Any], path: str, causes: list[Cause]) -> None:
    list_type = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    items = s.get("items")
    if list_type is not None:
        detail = "must be array if x-kubernetes-list-type is specified"
        if (
            _needs_type(s, "array", detail, path, causes)
            and list_type == "set"
            and isinstance(items, dict)
        ):
            _set_items(items, path, causes)
        if list_type not in ("atomic", "set", "map"):
            causes.append(
                not_supported(f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"])
            )
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            causes.append(required(f"{path}.x-kubernetes-list-type", detail))
        elif list_type != "map":
            causes.append(invalid(f"{path}.x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        _map_list(s, keys, items, path, causes)
    if list_type in ("set", "map") and isinstance(items, dict):
        _set_or_map_keys(items, list_type, keys, path, causes)


def _set_items(items: dict[str, Any], path: str, causes: list[Cause]) -> None:
    if items.get("type") == "array" and items.get("x-kubernetes-list-type") not in (None, "atomic"):
        causes.append(
            invalid(
                f"{path}.items.x-kubernetes-list-type", items["x-kubernetes-list-type"], SET_ITEMS
            )
        )
    elif items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
        causes.append(
            invalid(
                f"{path}.items.x-kubernetes-map-type",
                items.get("x-kubernetes-list-type"),
                SET_ITEMS,
            )
        )


def _map_list(
    s: dict[str, Any], keys: list[Any], items: Any, path: str, causes: list[Cause]
) -> None:
    if not keys:
        causes.append(
            required(
                f"{path}.x-kubernetes-list-map-keys",
                "must not be empty if x-kubernetes-list-type is map",
            )
        )
    if items is None:
        causes.append(
            required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map")
        )
        return
    if not isinstance(items, dict):
        causes.append(
            invalid_value(
                f"{path}.items",
                items,
                "must only have a single schema if x-kubernetes-list-type is map",
            )
        )
        return
    if items.get("type") != "object":
        detail = "must be object if parent array's x-kubernetes-list-type is map"
        causes.append(invalid(f"{path}.items.type", items.get("type") or "", detail))
        return
    properties = items.get("properties") or {}
    shown = "[]string{" + ", ".join(f'"{k}"' for k in keys) + "}"
    seen: set[Any] = set()
    for key in keys:
        prop = properties.get(key)
        if prop is None:
            causes.append(
                _invalid_shown(
                    f"{path}.x-kubernetes-list-map-keys",
                    shown,
                    "entries must all be names of item properties",
                )
            )
        elif prop.get("type") in ("array", "object"):
            detail = "must be a scalar type if parent array's x-kubernetes-list-type is map"
            causes.append(invalid(f"{path}.items.properties[{key}].type", "object", detail))
        if key in seen:
            causes.append(
                _invalid_shown(
                    f"{path}.x-kubernetes-list-map-keys",
                    shown,
                    "must not contain duplicate entries",
                )
            )
        seen.add(key)


def _set_or_map_keys(
    items: dict[str, Any], list_type: str, keys: list[Any], path: str, causes: list[Cause]
) -> None:
    if items.get("nullable") is True:
        causes.append(
            forbidden(
                f"{path}.items.nullable",
                f"cannot be nullable when x-kubernetes-list-type is {list_type}",
            )
        )
    if list_type != "map":
        return
    properties = items.get("properties") or {}
    required_keys = set(items.get("required") or ())
    for key in keys:
        prop = properties.get(key)
        if not isinstance(prop, dict):
            continue
        where = f"{path}.items.properties[{key}]"
        if key not in required_keys and prop.get("default") is None:
            detail = (
                "this property is in x-kubernetes-list-map-keys, "
                "so it must have a default or be a required property"
            )
            causes.append(required(f"{where}.default", detail))
        if prop.get("nullable") is True:
            detail = "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"
            causes.append(forbidden(f"{where}.nullable", detail))


def _invalid_shown(field: str, shown: str, detail: str) -> Cause:
    return Cause(field, "FieldValueInvalid", f"Invalid value: {shown}: {detail}")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

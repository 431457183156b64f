"""What makes a schema structural (apiextensions ``ValidateStructural``).

A structural schema says the type of every field outside the logical
junctors (``allOf``, ``anyOf``, ``oneOf``, ``not``); the junctors only add
value checks to fields declared outside them. The rules, each with
Kubernetes' words:

- every node has a ``type`` (``must not be empty at the root`` / ``for
  specified array items`` / ``for specified object fields``) unless it is
  ``x-kubernetes-int-or-string`` or preserves unknown fields; the root is an
  object without ``additionalProperties``; an array has ``items``;
- inside junctors no ``type``, ``title``, ``description``, ``default``,
  ``additionalProperties``, ``nullable`` or ``x-kubernetes-*``, and no
  ``metadata`` property; int-or-string's own ``anyOf: [{type: integer},
  {type: string}]`` (alone or first in an ``allOf``) is exempt;
- a property a root-level junctor names must exist outside it;
- root ``metadata`` may restrict only ``name`` and ``generateName``;
  ``kind``/``apiVersion`` at the root or in an embedded resource are
  strings; an embedded resource is an object with properties or
  preserving unknown fields;
- patterns compile as RE2.

``structural_causes`` returns them sorted by their text, as Kubernetes
sorts them (its maps have no order).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.openapi.patterns import PatternError, compile_pattern
from orchestrator.api.validation_causes import Cause, forbidden, invalid, required

ROOT, ITEM, FIELD = "root", "item", "field"
EMPTY_TYPE = {
    ROOT: "must not be empty at the root",
    ITEM: "must not be empty for specified array items",
    FIELD: "must not be empty for specified object fields",
}
INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
METADATA_FREE_KEYS = frozenset({"type", "default", "example", "externalDocs", "$schema"})
NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
)
NESTED_FORBIDDEN_FLAGS = (
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
)
NESTED_FORBIDDEN_EXTENSIONS = (
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)


def structural_causes(schema: dict[str, Any], path: str) -> list[Cause]:
    """Every structural-schema violation in ``schema`` (at ``path``), sorted as Kubernetes sorts."""
    causes: list[Cause] = []
    _invariants(schema, ROOT, path, causes)
    _completeness(schema, schema, path, path, causes)
    return sorted(causes, key=lambda c: f"{c.field}: {c.message}")


def _invariants(s: dict[str, Any], level: str, path: str, causes: list[Cause]) -> None:
    type_name = s.get("type") or ""
    items = s.get("items")
    if type_name == "array" and items is None:
        causes.append(required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        _invariants(items, ITEM, f"{path}.items", causes)
    properties = _properties(s)
    for key, child in properties.items():
        _invariants(child, FIELD, f"{path}.properties[{key}]", causes)
    extra = s.get("additionalProperties")
    if extra is not None:
        if level == ROOT:
            causes.append(forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(extra, dict):
            _invariants(extra, FIELD, f"{path}.additionalProperties", causes)
    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if int_or_string and preserve:
        detail = "must be false if x-kubernetes-int-or-string is true"
        causes.append(invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True, detail))
    if int_or_string and embedded:
        detail = "must be false if x-kubernetes-int-or-string is true"
        causes.append(invalid(f"{path}.x-kubernetes-embedded-resource", True, detail))
    _value_validation(s, _int_or_string_any_of(s), _int_or_string_all_of(s), level, path, causes)
    if embedded and type_name != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        if type_name:
            causes.append(invalid(f"{path}.type", type_name, detail))
        else:
            causes.append(required(f"{path}.type", detail))
    elif not type_name and not int_or_string and not preserve:
        causes.append(required(f"{path}.type", EMPTY_TYPE[level]))
    if embedded and extra is not None:
        detail = "must not be used if x-kubernetes-embedded-resource is set"
        causes.append(forbidden(f"{path}.additionalProperties", detail))
    if level == ROOT and type_name and type_name != "object":
        causes.append(invalid(f"{path}.type", type_name, "must be object at the root"))
    check_meta = level == ROOT or embedded
    for key in ("kind", "apiVersion"):
        child = properties.get(key)
        if child is not None and check_meta and child.get("type") != "string":
            field = f"{path}.properties[{key}].type"
            causes.append(invalid(field, child.get("type") or "", "must be string"))
    metadata = properties.get("metadata")
    if metadata is not None:
        _metadata(metadata, check_meta, level, f"{path}.properties[metadata]", causes)
    if embedded and not preserve and not properties:
        detail = (
            "must not be empty if x-kubernetes-embedded-resource is true "
            "without x-kubernetes-preserve-unknown-fields"
        )
        causes.append(required(f"{path}.properties", detail))


def _metadata(
    s: dict[str, Any], check_meta: bool, level: str, path: str, causes: list[Cause]
) -> None:
    if check_meta and s.get("type") != "object":
        causes.append(invalid(f"{path}.type", s.get("type") or "", "must be object"))
    if level != ROOT:
        return
    properties = _properties(s)
    allowed = set(properties) <= {"name", "generateName"}
    extra_keys = [
        k for k in s if k not in METADATA_FREE_KEYS and not (k == "properties" and allowed)
    ]
    if extra_keys:
        detail = (
            "must not specify anything other than name and generateName, "
            "but metadata is implicitly specified"
        )
        causes.append(forbidden(path, detail))


def _int_or_string_any_of(s: dict[str, Any]) -> bool:
    return s.get("anyOf") == INT_OR_STRING_ANY_OF


def _int_or_string_all_of(s: dict[str, Any]) -> bool:
    all_of = _list(s.get("allOf"))
    return (
        bool(all_of)
        and isinstance(all_of[0], dict)
        and all_of[0].get("anyOf") == INT_OR_STRING_ANY_OF
    )


def _value_validation(
    s: dict[str, Any],
    skip_any_of: bool,
    skip_first_all_of: bool,
    level: str,
    path: str,
    causes: list[Cause],
) -> None:
    if not skip_any_of:
        for i, branch in enumerate(_list(s.get("anyOf"))):
            _nested(branch, False, level, f"{path}.anyOf[{i}]", causes)
    for i, branch in enumerate(_list(s.get("allOf"))):
        _nested(branch, skip_first_all_of and i == 0, level, f"{path}.allOf[{i}]", causes)
    for i, branch in enumerate(_list(s.get("oneOf"))):
        _nested(branch, False, level, f"{path}.oneOf[{i}]", causes)
    not_schema = s.get("not")
    if isinstance(not_schema, dict):
        _nested(not_schema, False, level, f"{path}.not", causes)
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            detail = f"must be a valid regular expression, but isn't: {exc}"
            causes.append(invalid(f"{path}.pattern", pattern, detail))


def _nested(v: Any, skip_any_of: bool, level: str, path: str, causes: list[Cause]) -> None:
    if not isinstance(v, dict):
        return
    _value_validation(v, skip_any_of, False, level, path, causes)
    items = v.get("items")
    if isinstance(items, dict):
        _nested(items, False, level, f"{path}.items", causes)
    properties = _properties(v)
    for key, child in properties.items():
        _nested(child, False, FIELD, f"{path}.properties[{key}]", causes)
    for key, detail in NESTED_FORBIDDEN:
        value = v.get(key)
        if value is not None and (value != "" or key in ("default", "additionalProperties")):
            causes.append(forbidden(f"{path}.{key}", detail))
    for key, detail in NESTED_FORBIDDEN_FLAGS:
        if v.get(key):
            causes.append(forbidden(f"{path}.{key}", detail))
    for key, detail in NESTED_FORBIDDEN_EXTENSIONS:
        if v.get(key) not in (None, [], ""):
            causes.append(forbidden(f"{path}.{key}", detail))
    if "metadata" in properties:
        causes.append(
            forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context")
        )


def _completeness(
    v: dict[str, Any], s: dict[str, Any] | None, s_path: str, v_path: str, causes: list[Cause]
) -> None:
    """Each junctor branch of the root names only fields declared outside the junctors."""
    for junctor in JUNCTORS:
        branches = v.get(junctor)
        if junctor == "not":
            branches = [branches] if isinstance(branches, dict) else []
        for i, branch in enumerate(_list(branches)):
            suffix = f"{v_path}.not" if junctor == "not" else f"{v_path}.{junctor}[{i}]"
            _nested_completeness(branch, s, s_path, suffix, causes)


def _nested_completeness(
    v: Any, s: dict[str, Any] | None, s_path: str, v_path: str, causes: list[Cause]
) -> None:
    if not isinstance(v, dict):
        return
    if s is None:
        causes.append(required(s_path, f"because it is defined in {v_path}"))
        return
    _completeness(v, s, s_path, v_path, causes)
    items = v.get("items")
    if isinstance(items, dict):
        s_items = s.get("items")
        _nested_completeness(
            items,
            s_items if isinstance(s_items, dict) else None,
            f"{s_path}.items",
            f"{v_path}.items",
            causes,
        )
    s_properties = _properties(s)
    for key, child in _properties(v).items():
        declared = s_properties.get(key)
        if declared is None:
            field = f"{s_path}.properties[{key}]"
            causes.append(required(field, f"because it is defined in {v_path}.properties[{key}]"))
        else:
            _nested_completeness(
                child,
                declared,
                f"{s_path}.properties[{key}]",
                f"{v_path}.properties[{key}]",
                causes,
            )


def _properties(s: dict[str, Any]) -> dict[str, Any]:
    properties = s.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {k: v for k, v in properties.items() if isinstance(v, dict)}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

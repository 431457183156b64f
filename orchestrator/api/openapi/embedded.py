"""Embedded resources (``x-kubernetes-embedded-resource: true``) checked as objects.

A node marked embedded holds a whole Kubernetes object (a Pod template, a
RawExtension): Kubernetes requires its ``apiVersion`` and ``kind``, checks
``kind`` as a mixed-case DNS-1035 label and ``apiVersion`` as
``[group/]version``, and runs the ObjectMeta rules on its ``metadata``
with the custom-resource name rule (a path segment: not ``.`` or ``..``,
no ``/`` or ``%``). An empty name is allowed here (Kubernetes substitutes a
placeholder before validating). The root object's own metadata is the API
server's business and is not looked at.

Paths use ``field.Path`` rendering: ``spec.template.metadata.name``,
``spec.map[key]``, ``spec.list[0]``.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.validation_causes import Cause, invalid, invalid_all, required
from orchestrator.api.validation_names import (
    check_dns1035_label,
    check_dns1123_label,
    check_qualified_name,
)
from orchestrator.api.validation_pods import validate_labels


def embedded_causes(value: Any, schema: dict[str, Any] | None, path: str) -> list[Cause]:
    """Every embedded resource under ``value`` that is not a valid object header."""
    causes: list[Cause] = []
    _walk(value, schema, path, causes)
    return causes


def _walk(value: Any, schema: dict[str, Any] | None, path: str, causes: list[Cause]) -> None:
    if schema is None:
        return
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            causes.extend(check_resource(value, path))
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key)
            if child is not None:
                _walk(item, child, f"{path}.{key}" if path else key, causes)
            elif isinstance(extra, dict):
                _walk(item, extra, f"{path}[{key}]", causes)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _walk(item, items, f"{path}[{i}]", causes)


def check_resource(value: dict[str, Any], path: str) -> list[Cause]:
    """The header rules of one embedded object at ``path``."""
    prefix = f"{path}." if path else ""
    causes: list[Cause] = []
    if "apiVersion" not in value:
        causes.append(required(f"{prefix}apiVersion", "must not be empty"))
    if "kind" not in value:
        causes.append(required(f"{prefix}kind", "must not be empty"))
    for key, item in value.items():
        if key == "apiVersion":
            causes.extend(_api_version(item, f"{prefix}apiVersion"))
        elif key == "kind":
            causes.extend(_kind(item, f"{prefix}kind"))
        elif key == "metadata" and isinstance(item, dict):
            causes.extend(_metadata(item, f"{prefix}metadata"))
    return causes


def _api_version(value: Any, field: str) -> list[Cause]:
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    if not value:
        return [invalid(field, value, "must not be empty")]
    if value.count("/") > 1:
        return [invalid(field, value, f"unexpected GroupVersion string: {value}")]
    return []


def _kind(value: Any, field: str) -> list[Cause]:
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    if not value:
        return [invalid(field, value, "must not be empty")]
    problems = check_dns1035_label(value.lower())
    if problems:
        detail = "may have mixed case, but should otherwise match: " + ",".join(problems)
        return [invalid(field, value, detail)]
    return []


def _metadata(meta: dict[str, Any], field: str) -> list[Cause]:
    causes: list[Cause] = []
    generate_name = meta.get("generateName")
    if isinstance(generate_name, str) and generate_name:
        causes += invalid_all(
            f"{field}.generateName", generate_name, _path_segment(generate_name, True)
        )
    name = meta.get("name")
    if isinstance(name, str) and name:
        causes += invalid_all(f"{field}.name", name, _path_segment(name, False))
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace:
        causes += invalid_all(f"{field}.namespace", namespace, check_dns1123_label(namespace))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        causes.append(
            invalid(f"{field}.generation", generation, "must be greater than or equal to 0")
        )
    causes += validate_labels(f"{field}.labels", meta.get("labels"))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        for key in annotations:
            causes += invalid_all(f"{field}.annotations", key, check_qualified_name(key.lower()))
    finalizers = meta.get("finalizers")
    if isinstance(finalizers, list):
        for i, finalizer in enumerate(finalizers):
            if isinstance(finalizer, str):
                causes += invalid_all(
                    f"{field}.finalizers[{i}]", finalizer, check_qualified_name(finalizer)
                )
    return causes


def _path_segment(name: str, prefix: bool) -> list[str]:
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]

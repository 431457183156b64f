"""The CustomResourceDefinition object itself: its defaults and its validation.

What a CRD write gets refused for, in Kubernetes' words and paths
(reference/crds-and-webhooks.md section 1): names, group, scope, versions
(exactly one storage version, unique names, a schema each), the structural
schema (``orchestrator.api.openapi``), CEL rules that do not compile,
printer columns, subresource paths; and on update the fields that may not
change. The status is the server's: a client's is discarded on create and
kept from the stored object on update (``/status`` writes it).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import openapi
from orchestrator.api.copying import copy_json
from orchestrator.api.objects import Obj
from orchestrator.api.openapi.cel import compile_rules
from orchestrator.api.printercolumns import check_columns
from orchestrator.api.validation import validate_metadata, validate_update
from orchestrator.api.validation_causes import (
    Cause,
    forbidden,
    invalid,
    invalid_all,
    not_supported,
    required,
)
from orchestrator.api.validation_names import check_dns1035_label, check_dns1123_subdomain
from orchestrator.api.validation_pods import as_dict, as_list
from orchestrator.apiserver.registry import CLEANUP_FINALIZER

__all__ = ["CLEANUP_FINALIZER", "storage_version", "validate_definition"]

_IMMUTABLE = "field is immutable"
_QUALIFIED_KIND = "CustomResourceDefinition.apiextensions.k8s.io"
_SCOPES = ("Cluster", "Namespaced")


def default_definition(obj: Obj) -> Obj:
    """Server defaults of a CRD: singular, listKind, conversion, preserveUnknownFields."""
    out = copy_json(obj)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    conversion = spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(conversion, dict):
        conversion.setdefault("strategy", "None")
    return out


def storage_version(obj: Obj) -> str:
    for version in as_list((obj.get("spec") or {}).get("versions")):
        if isinstance(version, dict) and version.get("storage") is True:
            return str(version.get("name", ""))
    return ""


def validate_definition(obj: Obj) -> list[Cause]:
    """Every reason ``obj`` is not an acceptable CRD (create and update alike)."""
    causes = validate_metadata("", obj.get("metadata"), namespaced=False)
    spec = as_dict(obj.get("spec"))
    group, names = spec.get("group"), as_dict(spec.get("names"))
    plural = names.get("plural")
    if not group:
        causes.append(required("spec.group"))
    elif isinstance(group, str):
        causes += invalid_all("spec.group", group, check_dns1123_subdomain(group))
        if "." not in group:
            causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    name = as_dict(obj.get("metadata")).get("name")
    if isinstance(plural, str) and isinstance(group, str) and name != f"{plural}.{group}":
        causes.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    causes += _validate_names(names, "spec.names")
    scope = spec.get("scope")
    if not scope:
        causes.append(required("spec.scope"))
    elif scope not in _SCOPES:
        causes.append(not_supported("spec.scope", scope, _SCOPES))
    if spec.get("preserveUnknownFields") is True:
        causes.append(
            invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )
    causes += _validate_conversion(as_dict(spec.get("conversion")))
    causes += _validate_versions(as_list(spec.get("versions")))
    return causes


def _validate_names(names: dict[str, Any], field: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("plural", "singular"):
        value = names.get(key)
        if not value:
            causes.append(required(f"{field}.{key}"))
        elif isinstance(value, str):
            causes += invalid_all(f"{field}.{key}", value, check_dns1035_label(value))
    kind, list_kind = names.get("kind"), names.get("listKind")
    for key, value in (("kind", kind), ("listKind", list_kind)):
        if not value:
            causes.append(required(f"{field}.{key}"))
        elif isinstance(value, str) and check_dns1035_label(value.lower()):
            causes.append(
                invalid(
                    f"{field}.{key}",
                    value,
                    "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
                )
            )
    if kind and kind == list_kind:
        causes.append(
            invalid(f"{field}.listKind", list_kind, "kind and listKind may not be the same")
        )
    for key in ("shortNames", "categories"):
        for i, value in enumerate(as_list(names.get(key))):
            if isinstance(value, str):
                causes += invalid_all(f"{field}.{key}[{i}]", value, check_dns1035_label(value))
    return causes


def _validate_conversion(conversion: dict[str, Any]) -> list[Cause]:
    strategy = conversion.get("strategy", "None")
    if strategy == "None":
        return []
    if strategy == "Webhook":
        return [
            forbidden(
                "spec.conversion.strategy",
                "conversion webhooks are not supported by this server; use None",
            )
        ]
    return [not_supported("spec.conversion.strategy", strategy, ("None", "Webhook"))]


def _validate_versions(versions: list[Any]) -> list[Cause]:
    if not versions:
        return [
            required("spec.versions", "must have exactly one version marked as storage version")
        ]
    causes: list[Cause] = []
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(versions):
        field = f"spec.versions[{i}]"
        version = as_dict(version)
        name = version.get("name")
        if not name:
            causes.append(required(f"{field}.name"))
        elif isinstance(name, str):
            causes += invalid_all(f"{field}.name", name, check_dns1035_label(name))
            if name in seen:
                causes.append(
                    invalid("spec.versions", versions, "must contain unique version names")
                )
            seen.add(name)
        storage += version.get("storage") is True
        if version.get("deprecationWarning") is not None:
            if not version.get("deprecated"):
                causes.append(
                    invalid(
                        f"{field}.deprecationWarning",
                        version["deprecationWarning"],
                        "can only be set for deprecated versions",
                    )
                )
            elif len(str(version["deprecationWarning"])) > 256:
                causes.append(
                    invalid(
                        f"{field}.deprecationWarning",
                        version["deprecationWarning"],
                        "must be <= 256 characters long",
                    )
                )
        causes += _validate_version_schema(version, field)
    if storage != 1:
        causes.append(
            invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    return causes


def _validate_version_schema(version: dict[str, Any], field: str) -> list[Cause]:
    schema = as_dict(version.get("schema")).get("openAPIV3Schema")
    schema_field = f"{field}.schema.openAPIV3Schema"
    if schema is None:
        return [required(schema_field)]
    subresources = as_dict(version.get("subresources"))
    has_status = "status" in subresources
    causes = openapi.check_structural(schema, schema_field, status_subresource=has_status)
    if not causes:
        _, rule_causes = compile_rules(schema, schema_field)
        causes += rule_causes
    causes += check_columns(
        version.get("additionalPrinterColumns"), f"{field}.additionalPrinterColumns"
    )
    scale = subresources.get("scale")
    if scale is not None:
        causes += _validate_scale(as_dict(scale), f"{field}.subresources.scale")
    return causes


def _validate_scale(scale: dict[str, Any], field: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, prefix in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
        path = scale.get(key)
        if not path:
            causes.append(required(f"{field}.{key}"))
        elif not isinstance(path, str) or not path.startswith(prefix) or not _simple(path):
            causes.append(
                invalid(f"{field}.{key}", path, f"should be a json path under {prefix[:-1]}")
            )
    selector = scale.get("labelSelectorPath")
    if selector is not None and (
        not isinstance(selector, str)
        or not selector.startswith((".spec.", ".status."))
        or not _simple(selector)
    ):
        causes.append(
            invalid(
                f"{field}.labelSelectorPath",
                selector,
                "should be a json path under either .spec or .status",
            )
        )
    return causes


def _simple(path: str) -> bool:
    return all(part and "[" not in part for part in path[1:].split("."))


def validate_definition_update(old: Obj, new: Obj) -> list[Cause]:
    """What may not change once stored (group, plural; kind and scope once Established)."""
    causes: list[Cause] = validate_update(_QUALIFIED_KIND, old, new)
    old_spec, new_spec = as_dict(old.get("spec")), as_dict(new.get("spec"))
    if old_spec.get("group") != new_spec.get("group"):
        causes.append(invalid("spec.group", new_spec.get("group"), _IMMUTABLE))
    old_names, new_names = as_dict(old_spec.get("names")), as_dict(new_spec.get("names"))
    if old_names.get("plural") != new_names.get("plural"):
        causes.append(invalid("spec.names.plural", new_names.get("plural"), _IMMUTABLE))
    if is_established(old):
        if old_spec.get("scope") != new_spec.get("scope"):
            causes.append(invalid("spec.scope", new_spec.get("scope"), _IMMUTABLE))
        if old_names.get("kind") != new_names.get("kind"):
            causes.append(invalid("spec.names.kind", new_names.get("kind"), _IMMUTABLE))
    served = {str(as_dict(v).get("name")) for v in as_list(new_spec.get("versions"))}
    for stored in as_list(as_dict(old.get("status")).get("storedVersions")):
        if stored not in served:
            causes.append(
                invalid(
                    "status.storedVersions[0]",
                    stored,
                    f"missing from spec.versions; {stored} was previously a storage version, "
                    "and must remain in spec.versions until a storage migration ensures no data "
                    "remains persisted in that version, the version is removed from "
                    "status.storedVersions",
                )
            )
    return causes


def is_established(obj: Obj) -> bool:
    for condition in as_list(as_dict(obj.get("status")).get("conditions")):
        if as_dict(condition).get("type") == "Established":
            return as_dict(condition).get("status") == "True"
    return False

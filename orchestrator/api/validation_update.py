"""Rules on updates: which fields may not change once an object exists.

``validate_update`` compares the stored object with the new one and reports
the fields that changed but may not. It does not re-run create-time rules;
the API server runs ``validate`` on the new object as well. Server-owned
metadata (namespace, uid, creationTimestamp) is the server's business.

A Pod is the special case: its spec is frozen except for a short list, so we
blank out what may change in both specs and compare the rest, as
Kubernetes' ``ValidatePodUpdate`` does, naming the fields that differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from orchestrator.api.copying import copy_json
from orchestrator.api.schema_types import is_integer
from orchestrator.api.validation_causes import Cause, forbidden, invalid
from orchestrator.api.validation_pods import as_dict, as_list
from orchestrator.api.validation_rbac import update_binding

IMMUTABLE = "field is immutable"
POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)
PVC_UPDATE_MESSAGE = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)


def check_unchanged(field: str, old: Any, new: Any) -> list[Cause]:
    """``field is immutable`` when the value at ``field`` differs."""
    return [] if old == new else [invalid(field, new, IMMUTABLE)]


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return as_dict(obj.get("spec"))


def _update_replicated(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    return check_unchanged("spec.selector", _spec(old).get("selector"), _spec(new).get("selector"))


def _update_job(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("selector", "template", "completionMode"):
        causes += check_unchanged(f"spec.{key}", _spec(old).get(key), _spec(new).get(key))
    return causes


def _update_service(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    before, after = _spec(old).get("clusterIP"), _spec(new).get("clusterIP")
    # An update that leaves clusterIP out keeps the allocated one (the server copies it over).
    if before and after and before != after:
        return [invalid("spec.clusterIP", after, IMMUTABLE)]
    return []


def _update_data(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """ConfigMaps and Secrets marked ``immutable: true``."""
    if old.get("immutable") is not True:
        return []
    detail = "field is immutable when `immutable` is set"
    causes: list[Cause] = []
    if new.get("immutable") is not True:
        causes.append(forbidden("immutable", detail))
    for key in ("data", "binaryData", "type"):
        if old.get(key) != new.get(key):
            causes.append(forbidden(key, detail))
    return causes


def _update_secret(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """A Secret's type is fixed at creation (Kubernetes'), and ``immutable`` as for ConfigMaps."""
    causes = _update_data(old, new)
    if old.get("type") != new.get("type") and not any(c.field == "type" for c in causes):
        causes.append(invalid("type", new.get("type"), IMMUTABLE))
    return causes


def _update_pvc(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    before, after = copy_json(_spec(old)), copy_json(_spec(new))
    for spec in (before, after):
        spec.pop("resources", None)
        spec.pop("volumeAttributesClassName", None)
    if not before.get("volumeName"):  # binding a claim fills it in once
        after.pop("volumeName", None)
        before.pop("volumeName", None)
    return [] if before == after else [forbidden("spec", PVC_UPDATE_MESSAGE)]


def _update_pod(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    before, after = copy_json(_spec(old)), copy_json(_spec(new))
    causes = _check_active_deadline(before.get("activeDeadlineSeconds"), after)
    for spec in (before, after):
        spec.pop("activeDeadlineSeconds", None)
    for group in ("containers", "initContainers"):
        olds, news = as_list(before.get(group)), as_list(after.get(group))
        if len(olds) == len(news):
            for old_container, new_container in zip(olds, news, strict=True):
                if isinstance(old_container, dict) and isinstance(new_container, dict):
                    new_container["image"] = old_container.get("image")
                    if "image" not in old_container:
                        new_container.pop("image")
    old_tolerations = as_list(before.get("tolerations"))
    if all(t in as_list(after.get("tolerations")) for t in old_tolerations):
        after["tolerations"] = before.get("tolerations")
        if "tolerations" not in before:
            after.pop("tolerations", None)
    grace = before.get("terminationGracePeriodSeconds")
    if is_integer(grace) and grace < 0 and after.get("terminationGracePeriodSeconds") == 1:
        after["terminationGracePeriodSeconds"] = grace
    if not before.get("nodeName") and after.get("nodeName"):
        after.pop("nodeName")  # binding; Kubernetes does it through pods/binding
        before.pop("nodeName", None)
    gates = as_list(after.get("schedulingGates"))
    if all(g in as_list(before.get("schedulingGates")) for g in gates):
        after.pop("schedulingGates", None)  # gates may only be removed
        before.pop("schedulingGates", None)
    if before != after:
        changed = sorted(
            f"spec.{key}"
            for key in before.keys() | after.keys()
            if before.get(key) != after.get(key)
        )
        causes.append(forbidden("spec", f"{POD_UPDATE_MESSAGE}; changed: {', '.join(changed)}"))
    return causes


def _check_active_deadline(before: Any, after: dict[str, Any]) -> list[Cause]:
    field = "spec.activeDeadlineSeconds"
    value = after.get("activeDeadlineSeconds")
    if not is_integer(before):
        return []
    if value is None:
        return [invalid(field, None, "must not update from a positive integer to nil value")]
    if is_integer(value) and value > before:
        return [invalid(field, value, "must be less than or equal to previous value")]
    return []


def _update_ingress_class(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    before, after = _spec(old).get("controller"), _spec(new).get("controller")
    return check_unchanged("spec.controller", before, after)


UPDATE_RULES: Mapping[str, Callable[[dict[str, Any], dict[str, Any]], list[Cause]]] = (
    MappingProxyType(
        {
            "Pod": _update_pod,
            "Deployment": _update_replicated,
            "ReplicaSet": _update_replicated,
            "Job": _update_job,
            "Service": _update_service,
            "ConfigMap": _update_data,
            "Secret": _update_secret,
            "PersistentVolumeClaim": _update_pvc,
            "IngressClass": _update_ingress_class,
            "RoleBinding": update_binding,
            "ClusterRoleBinding": update_binding,
        }
    )
)

"""Rules of the ``rbac.authorization.k8s.io`` kinds (Kubernetes' ``pkg/apis/rbac/validation``).

A policy rule is either about resources (verbs, API groups and resources
all given) or about non-resource URLs (``/healthz``), never both; only
ClusterRoles may name URLs. A binding names its role (``roleRef``, which
never changes once written) and its subjects: Users and Groups of the
``rbac.authorization.k8s.io`` group, ServiceAccounts of the core group with
a namespace (required in a ClusterRoleBinding, which has none of its own).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.validation_causes import Cause, invalid, not_supported, required
from orchestrator.api.validation_pods import as_dict, as_list

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def check_path_segment_name(value: str) -> list[str]:
    """RBAC names only need to be one URL path segment (``system:node`` is fine)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def _rules(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(as_list(obj.get("rules"))):
        rule = as_dict(rule)
        at = f"rules[{i}]"
        if not rule.get("verbs"):
            causes.append(required(f"{at}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs")
        if urls:
            if namespaced:
                causes.append(
                    invalid(
                        f"{at}.nonResourceURLs",
                        urls,
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                causes.append(
                    invalid(
                        f"{at}.nonResourceURLs",
                        urls,
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not rule.get("apiGroups"):
            causes.append(
                required(f"{at}.apiGroups", "resource rules must supply at least one api group")
            )
        if not rule.get("resources"):
            causes.append(
                required(f"{at}.resources", "resource rules must supply at least one resource")
            )
    return causes


def validate_role(obj: dict[str, Any]) -> list[Cause]:
    return _rules(obj, namespaced=True)


def validate_cluster_role(obj: dict[str, Any]) -> list[Cause]:
    return _rules(obj, namespaced=False)


def _binding(obj: dict[str, Any], cluster: bool) -> list[Cause]:
    causes: list[Cause] = []
    ref = as_dict(obj.get("roleRef"))
    kinds = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if ref.get("apiGroup") != GROUP:
        causes.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), (GROUP,)))
    if not ref.get("kind"):
        causes.append(required("roleRef.kind"))
    elif ref["kind"] not in kinds:
        causes.append(not_supported("roleRef.kind", ref["kind"], kinds))
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    elif isinstance(ref["name"], str):
        for problem in check_path_segment_name(ref["name"]):
            causes.append(invalid("roleRef.name", ref["name"], problem))
    for i, subject in enumerate(as_list(obj.get("subjects"))):
        causes += _subject(as_dict(subject), f"subjects[{i}]", cluster)
    return causes


def _subject(subject: dict[str, Any], at: str, cluster: bool) -> list[Cause]:
    causes: list[Cause] = []
    if not subject.get("name"):
        causes.append(required(f"{at}.name"))
    kind = subject.get("kind")
    group = subject.get("apiGroup", "")
    if kind == "ServiceAccount":
        if group:
            causes.append(not_supported(f"{at}.apiGroup", group, ("",)))
        if cluster and not subject.get("namespace"):
            causes.append(required(f"{at}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            causes.append(not_supported(f"{at}.apiGroup", group, (GROUP,)))
    else:
        causes.append(not_supported(f"{at}.kind", kind or "", SUBJECT_KINDS))
    return causes


def validate_role_binding(obj: dict[str, Any]) -> list[Cause]:
    return _binding(obj, cluster=False)


def validate_cluster_role_binding(obj: dict[str, Any]) -> list[Cause]:
    return _binding(obj, cluster=True)


def update_binding(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """``roleRef`` is fixed: a binding to another role is a new binding."""
    if as_dict(old.get("roleRef")) != as_dict(new.get("roleRef")):
        return [invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]
    return []

"""The restricted checks: hardening on top of baseline.

Restricted runs baseline's checks except the overlapping ones, which the
checks here replace (capabilities, volume types, procMount, seccomp), so a
pod breaking both versions is named once. From policy v1.25 Windows pods
skip the privilege-escalation, seccomp and capabilities checks (Linux-only
fields); from v1.35 a pod with ``hostUsers: false`` may run as root inside
its user namespace.
"""

from __future__ import annotations

from orchestrator.apiserver.podsecurity.baseline import proc_mount
from orchestrator.apiserver.podsecurity.policy import Version
from orchestrator.apiserver.podsecurity.results import (
    Check,
    Obj,
    Violation,
    as_list,
    containers,
    containers_phrase,
    is_windows,
    join_quote,
    name_of,
    security,
    setters,
    user_namespaced,
)

ALLOWED_VOLUME_SOURCES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "image",  # 1.33, patched into every version (kubernetes#130394)
)


def _linux_only(spec: Obj, version: Version) -> bool:
    """True when a Linux-only check does not apply (a Windows pod, policy v1.25+)."""
    return version.at_least(25) and is_windows(spec)


def allow_privilege_escalation(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    if _linux_only(spec, version):
        return None
    bad = [
        name_of(c)
        for c in containers(spec)
        if security(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return Violation(
        "allowPrivilegeEscalation != false",
        f"{containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def capabilities_restricted(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    if _linux_only(spec, version):
        return None
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    for container in containers(spec):
        caps = security(container).get("capabilities")
        if not isinstance(caps, dict):
            missing_drop.append(name_of(container))
            continue
        if "ALL" not in as_list(caps.get("drop")):
            missing_drop.append(name_of(container))
        extra = {str(c) for c in as_list(caps.get("add")) if c != "NET_BIND_SERVICE"}
        if extra:
            adding.append(name_of(container))
            forbidden |= extra
    details: list[str] = []
    if missing_drop:
        details.append(
            f'{containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{containers_phrase(adding)} must not include {join_quote(sorted(forbidden))} in "
            "securityContext.capabilities.add"
        )
    return Violation("unrestricted capabilities", "; ".join(details)) if details else None


def restricted_volumes(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad = sorted(
        {
            str(v.get("name"))
            for v in as_list(spec.get("volumes"))
            if isinstance(v, dict)
            and not any(v.get(source) is not None for source in ALLOWED_VOLUME_SOURCES)
        }
    )
    if not bad:
        return None
    quoted = " ".join(f'"{name}"' for name in bad)  # Go's %q of a []string: ["a" "b"]
    return Violation("restricted volume types", f"volumes [{quoted}] have restricted types")


def run_as_non_root(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    if version.at_least(35) and user_namespaced(spec):
        return None
    pod_setting = security(spec).get("runAsNonRoot")
    explicit = [name_of(c) for c in containers(spec) if security(c).get("runAsNonRoot") is False]
    who = setters(pod_setting is False, explicit)
    if who:
        return Violation(
            "runAsNonRoot != true",
            f"{' and '.join(who)} must not set securityContext.runAsNonRoot=false",
        )
    if pod_setting is True:
        return None
    implicit = [name_of(c) for c in containers(spec) if security(c).get("runAsNonRoot") is None]
    if not implicit:
        return None
    return Violation(
        "runAsNonRoot != true",
        f"pod or {containers_phrase(implicit)} must set securityContext.runAsNonRoot=true",
    )


def run_as_user(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    if version.at_least(35) and user_namespaced(spec):
        return None

    def root(holder: Obj) -> bool:
        uid = security(holder).get("runAsUser")
        return type(uid) is int and uid == 0

    who = setters(root(spec), [name_of(c) for c in containers(spec) if root(c)])
    if not who:
        return None
    return Violation("runAsUser=0", f"{' and '.join(who)} must not set runAsUser=0")


def seccomp_restricted(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    if _linux_only(spec, version):
        return None
    bad_values: set[str] = set()

    def profile_type(holder: Obj) -> str | None:
        profile = security(holder).get("seccompProfile")
        return str(profile.get("type") or "") if isinstance(profile, dict) else None

    def bad(kind: str | None) -> bool:
        if kind is None or kind in ("RuntimeDefault", "Localhost"):
            return False
        bad_values.add(kind)
        return True

    pod_kind = profile_type(spec)
    kinds = [(name_of(c), profile_type(c)) for c in containers(spec)]
    who = setters(bad(pod_kind), [name for name, kind in kinds if bad(kind)])
    if who:
        return Violation(
            "seccompProfile",
            f"{' and '.join(who)} must not set securityContext.seccompProfile.type to "
            f"{join_quote(sorted(bad_values))}",
        )
    if pod_kind is not None:
        return None
    implicit = [name for name, kind in kinds if kind is None]
    if not implicit:
        return None
    return Violation(
        "seccompProfile",
        f"pod or {containers_phrase(implicit)} must set securityContext.seccompProfile.type to "
        '"RuntimeDefault" or "Localhost"',
    )


CHECKS = (
    Check("allowPrivilegeEscalation", allow_privilege_escalation, since=8),
    Check("capabilities_restricted", capabilities_restricted, since=22),
    Check("procMount_restricted", proc_mount),
    Check("restrictedVolumes", restricted_volumes),
    Check("runAsNonRoot", run_as_non_root),
    Check("runAsUser", run_as_user, since=23),
    Check("seccompProfile_restricted", seccomp_restricted, since=19),
)

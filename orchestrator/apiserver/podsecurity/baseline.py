"""The baseline checks: what a pod must not do to escape its container.

One function per Kubernetes check, in the order Kubernetes evaluates them
(its check files in name order; the ``overlap`` ones, which restricted
replaces with stricter versions, come after the others at baseline). Each
cites the policy version it arrived in where that is not 1.0; a pinned
``-version`` older than that skips it, as Kubernetes does.
"""

from __future__ import annotations

from orchestrator.apiserver.podsecurity.policy import Version
from orchestrator.apiserver.podsecurity.results import (
    Check,
    Obj,
    Violation,
    as_dict,
    as_list,
    containers,
    containers_phrase,
    is_true,
    join_quote,
    name_of,
    pluralize,
    security,
    setters,
    user_namespaced,
)

APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# (first policy minor, sysctls it allows): the safe set grew with the kernels nodes run
SAFE_SYSCTLS = (
    (
        0,
        (
            "kernel.shm_rmid_forced",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range",
            "net.ipv4.ip_unprivileged_port_start",
        ),
    ),
    (27, ("net.ipv4.ip_local_reserved_ports",)),
    (
        29,
        (
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ),
    ),
    (32, ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")),
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})


def app_armor_profile(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad = sorted(
        f'{key}="{value}"'
        for key, value in as_dict(meta.get("annotations")).items()
        if key.startswith(APPARMOR_PREFIX)
        and isinstance(value, str)
        and value not in ("", "runtime/default")
        and not value.startswith("localhost/")
    )
    if version.at_least(30):  # the securityContext.appArmorProfile field (1.30)

        def unconfined(holder: Obj) -> bool:
            return as_dict(security(holder).get("appArmorProfile")).get("type") == "Unconfined"

        who = setters(unconfined(spec), [name_of(c) for c in containers(spec) if unconfined(c)])
        if who:
            bad.append(f'{" and ".join(who)} must not set AppArmor profile type to "Unconfined"')
    if not bad:
        return None
    reason = pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad))
    return Violation(reason, ", ".join(bad))


def host_namespaces(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    shared = [key for key in ("hostIPC", "hostNetwork", "hostPID") if is_true(spec.get(key))]
    if not shared:
        return None
    return Violation("host namespaces", ", ".join(f"{key}=true" for key in shared))


def host_ports(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad: list[str] = []
    ports: set[int] = set()
    for container in containers(spec):
        used = [
            p.get("hostPort")
            for p in as_list(container.get("ports"))
            if isinstance(p, dict) and p.get("hostPort")
        ]
        if used:
            bad.append(name_of(container))
            ports.update(int(p) for p in used if isinstance(p, int))
    if not bad:
        return None
    listed = ", ".join(sorted(str(p) for p in ports))  # Kubernetes sorts them as text
    uses = pluralize("uses", "use", len(bad))
    noun = pluralize("hostPort", "hostPorts", len(ports))
    return Violation("hostPort", f"{containers_phrase(bad)} {uses} {noun} {listed}")


def host_probes_and_lifecycle(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad: list[str] = []
    hosts: set[str] = set()
    for container in containers(spec):
        handlers = [container.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        lifecycle = as_dict(container.get("lifecycle"))
        handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        found = {
            str(as_dict(as_dict(h).get(kind)).get("host"))
            for h in handlers
            for kind in ("httpGet", "tcpSocket")
            if as_dict(as_dict(h).get(kind)).get("host")
        }
        if found:
            bad.append(name_of(container))
            hosts |= found
    if not bad:
        return None
    names = sorted(set(bad))
    return Violation(
        "probe or lifecycle host",
        f"{containers_phrase(names)} {pluralize('uses', 'use', len(names))} "
        f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{join_quote(sorted(hosts))}",
    )


def privileged(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad = [name_of(c) for c in containers(spec) if is_true(security(c).get("privileged"))]
    if not bad:
        return None
    return Violation(
        "privileged", f"{containers_phrase(bad)} must not set securityContext.privileged=true"
    )


def se_linux_options(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    allowed = SELINUX_TYPES | ({"container_engine_t"} if version.at_least(31) else set())
    bad_types: set[str] = set()
    found = {"user": False, "role": False}

    def bad(holder: Obj) -> bool:
        options = security(holder).get("seLinuxOptions")
        if not isinstance(options, dict):
            return False
        wrong = False
        kind = str(options.get("type") or "")
        if kind not in allowed:
            bad_types.add(kind)
            wrong = True
        for key in ("user", "role"):
            if options.get(key):
                found[key] = wrong = True
        return wrong

    who = setters(bad(spec), [name_of(c) for c in containers(spec) if bad(c)])
    if not who:
        return None
    data: list[str] = []
    if bad_types:  # Kubernetes names user and role only next to a bad type
        data.append(f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}")
        data += [f"{key} may not be set" for key in ("user", "role") if found[key]]
    return Violation(
        "seLinuxOptions",
        f"{' and '.join(who)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
    )


def sysctls(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    safe = {name for since, names in SAFE_SYSCTLS if version.at_least(since) for name in names}
    bad = [
        str(s.get("name"))
        for s in as_list(security(spec).get("sysctls"))
        if isinstance(s, dict) and s.get("name") not in safe
    ]
    return Violation("forbidden sysctls", ", ".join(bad)) if bad else None


def windows_host_process(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    def host_process(holder: Obj) -> bool:
        return is_true(as_dict(security(holder).get("windowsOptions")).get("hostProcess"))

    who = setters(host_process(spec), [name_of(c) for c in containers(spec) if host_process(c)])
    if not who:
        return None
    return Violation(
        "hostProcess",
        f"{' and '.join(who)} must not set securityContext.windowsOptions.hostProcess=true",
    )


# -- overlapping: restricted has stricter versions of these -------------------------------------


def capabilities_baseline(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad: list[str] = []
    added: set[str] = set()
    for container in containers(spec):
        extra = {
            str(cap)
            for cap in as_list(as_dict(security(container).get("capabilities")).get("add"))
            if cap not in DEFAULT_CAPABILITIES
        }
        if extra:
            bad.append(name_of(container))
            added |= extra
    if not bad:
        return None
    return Violation(
        "non-default capabilities",
        f"{containers_phrase(bad)} must not include {join_quote(sorted(added))} in "
        "securityContext.capabilities.add",
    )


def host_path_volumes(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad = [
        str(v.get("name"))
        for v in as_list(spec.get("volumes"))
        if isinstance(v, dict) and v.get("hostPath") is not None
    ]
    if not bad:
        return None
    noun = pluralize("volume", "volumes", len(bad))
    return Violation("hostPath volumes", f"{noun} {join_quote(bad)}")


def proc_mount_baseline(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    if version.at_least(35) and user_namespaced(spec):  # GA user namespaces mask /proc anyway
        return None
    return proc_mount(meta, spec, version)


def proc_mount(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    bad: list[str] = []
    kinds: set[str] = set()
    for container in containers(spec):
        kind = security(container).get("procMount")
        if kind is not None and kind != "Default":
            bad.append(name_of(container))
            kinds.add(str(kind))
    if not bad:
        return None
    return Violation(
        "procMount",
        f"{containers_phrase(bad)} must not set securityContext.procMount to "
        f"{join_quote(sorted(kinds))}",
    )


def seccomp_baseline(meta: Obj, spec: Obj, version: Version) -> Violation | None:
    if not version.at_least(19):
        return _seccomp_annotations(meta, spec)
    bad_values: set[str] = set()

    def bad(holder: Obj) -> bool:
        profile = security(holder).get("seccompProfile")
        if not isinstance(profile, dict):
            return False
        kind = str(profile.get("type") or "")
        if kind in ("RuntimeDefault", "Localhost"):
            return False
        bad_values.add(kind)
        return True

    who = setters(bad(spec), [name_of(c) for c in containers(spec) if bad(c)])
    if not who:
        return None
    return Violation(
        "seccompProfile",
        f"{' and '.join(who)} must not set securityContext.seccompProfile.type to "
        f"{join_quote(sorted(bad_values))}",
    )


def _seccomp_annotations(meta: Obj, spec: Obj) -> Violation | None:
    """Policy versions before 1.19 read the alpha annotations instead of the field."""
    annotations = as_dict(meta.get("annotations"))
    keys = [SECCOMP_POD_ANNOTATION]
    keys += [SECCOMP_CONTAINER_PREFIX + name_of(c) for c in containers(spec)]
    bad = sorted(
        {
            f'{key}="{annotations[key]}"'
            for key in keys
            if key in annotations
            and annotations[key] not in ("runtime/default", "docker/default")
            and not str(annotations[key]).startswith("localhost/")
        }
    )
    if not bad:
        return None
    return Violation(
        "seccompProfile",
        f"forbidden {pluralize('annotation', 'annotations', len(bad))} {', '.join(bad)}",
    )


CHECKS = (
    Check("appArmorProfile", app_armor_profile),
    Check("capabilities_baseline", capabilities_baseline, overlap=True),
    Check("hostNamespaces", host_namespaces),
    Check("hostPathVolumes", host_path_volumes, overlap=True),
    Check("hostPorts", host_ports),
    Check("hostProbesAndHostLifecycle", host_probes_and_lifecycle, since=34),
    Check("privileged", privileged),
    Check("procMount_baseline", proc_mount_baseline, overlap=True),
    Check("seLinuxOptions", se_linux_options),
    Check("seccompProfile_baseline", seccomp_baseline, overlap=True),
    Check("sysctls", sysctls),
    Check("windowsHostProcess", windows_host_process),
)

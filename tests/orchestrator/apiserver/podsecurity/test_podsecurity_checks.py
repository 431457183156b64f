"""Each Pod Security check refuses at its level, passes one level down, in Kubernetes' words.

Cases start from a pod that meets restricted and change one thing, so the
only violation is the one under test; the expected texts are those of
Kubernetes' ``pod-security-admission/policy/check_*.go``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestrator.apiserver.podsecurity.evaluator import detail, evaluate
from orchestrator.apiserver.podsecurity.policy import (
    LATEST,
    Level,
    LevelVersion,
    Policy,
    Version,
    policy_for,
)

BASELINE, RESTRICTED, PRIVILEGED = Level.BASELINE, Level.RESTRICTED, Level.PRIVILEGED


def compliant() -> dict[str, Any]:
    """A pod spec restricted accepts."""
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "paas/stack:bookworm",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }


def pod(*, spec: dict[str, Any] | None = None, app: dict[str, Any] | None = None, **more: Any):
    """``compliant()`` with pod-level ``spec`` keys, the container's ``securityContext`` keys
    (``app``) and whole extra containers lists merged in."""
    out = compliant()
    out.update(copy.deepcopy(spec or {}))
    out["containers"][0]["securityContext"].update(copy.deepcopy(app or {}))
    out.update(copy.deepcopy(more))
    return out


def init(name: str, **security: Any) -> dict[str, Any]:
    context = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return {"name": name, "image": "x", "securityContext": {**context, **security}}


CASES: list[tuple[str, Level, dict[str, Any], dict[str, Any], str]] = [
    # (case, level that refuses, pod spec, pod metadata, the violation as shown)
    (
        "host network",
        BASELINE,
        pod(spec={"hostNetwork": True}),
        {},
        "host namespaces (hostNetwork=true)",
    ),
    (
        "every host namespace",
        BASELINE,
        pod(spec={"hostNetwork": True, "hostPID": True, "hostIPC": True}),
        {},
        "host namespaces (hostIPC=true, hostNetwork=true, hostPID=true)",
    ),
    (
        "privileged container",
        BASELINE,
        pod(app={"privileged": True}),
        {},
        'privileged (container "app" must not set securityContext.privileged=true)',
    ),
    (
        "privileged init and ephemeral containers",
        BASELINE,
        pod(
            initContainers=[init("setup", privileged=True)],
            ephemeralContainers=[init("debug", privileged=True)],
        ),
        {},
        'privileged (containers "setup", "debug" must not set securityContext.privileged=true)',
    ),
    (
        "non-default capability",
        BASELINE,
        pod(app={"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_RAW"]}}),
        {},
        'non-default capabilities (container "app" must not include "NET_RAW", "SYS_ADMIN" in '
        "securityContext.capabilities.add)",
    ),
    (
        "hostPath volume",
        BASELINE,
        pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
        {},
        'hostPath volumes (volume "root")',
    ),
    (
        "host port",
        BASELINE,
        pod(
            containers=[
                {
                    **compliant()["containers"][0],
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                }
            ]
        ),
        {},
        'hostPort (container "app" uses hostPort 8080)',
    ),
    (
        "apparmor annotation unconfined",
        BASELINE,
        pod(),
        {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
        "forbidden AppArmor profile "
        '(container.apparmor.security.beta.kubernetes.io/app="unconfined")',
    ),
    (
        "apparmor field unconfined",
        BASELINE,
        pod(app={"appArmorProfile": {"type": "Unconfined"}}),
        {},
        'forbidden AppArmor profile (container "app" must not set AppArmor profile type to '
        '"Unconfined")',
    ),
    (
        "selinux type and user",
        BASELINE,
        pod(app={"seLinuxOptions": {"type": "spc_t", "user": "root"}}),
        {},
        'seLinuxOptions (container "app" set forbidden securityContext.seLinuxOptions: type '
        '"spc_t"; user may not be set)',
    ),
    (
        "unmasked proc",
        BASELINE,
        pod(app={"procMount": "Unmasked"}),
        {},
        'procMount (container "app" must not set securityContext.procMount to "Unmasked")',
    ),
    (
        "seccomp unconfined",
        BASELINE,
        pod(
            spec={
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}
            }
        ),
        {},
        'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    ),
    (
        "unsafe sysctl",
        BASELINE,
        pod(
            spec={
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                    "sysctls": [
                        {"name": "kernel.shm_rmid_forced", "value": "1"},
                        {"name": "kernel.msgmax", "value": "1"},
                    ],
                }
            }
        ),
        {},
        "forbidden sysctls (kernel.msgmax)",
    ),
    (
        "windows host process",
        BASELINE,
        pod(app={"windowsOptions": {"hostProcess": True}}),
        {},
        'hostProcess (container "app" must not set '
        "securityContext.windowsOptions.hostProcess=true)",
    ),
    (
        "probe host",
        BASELINE,
        pod(
            containers=[
                {
                    **compliant()["containers"][0],
                    "livenessProbe": {"httpGet": {"host": "169.254.169.254", "port": 80}},
                }
            ]
        ),
        {},
        'probe or lifecycle host (container "app" uses probe or lifecycle host "169.254.169.254")',
    ),
    (
        "privilege escalation allowed",
        RESTRICTED,
        pod(app={"allowPrivilegeEscalation": True}),
        {},
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false)",
    ),
    (
        "capabilities not dropped",
        RESTRICTED,
        pod(app={"capabilities": {"add": ["CHOWN"]}}),
        {},
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop='
        '["ALL"]; container "app" must not include "CHOWN" in securityContext.capabilities.add)',
    ),
    (
        "emptyDir and nfs volumes",
        RESTRICTED,
        pod(
            volumes=[
                {"name": "scratch", "emptyDir": {}},
                {"name": "share", "nfs": {"server": "x", "path": "/"}},
            ]
        ),
        {},
        'restricted volume types (volumes ["share"] have restricted types)',
    ),
    (
        "runAsNonRoot missing",
        RESTRICTED,
        pod(spec={"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}),
        {},
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)',
    ),
    (
        "runAsNonRoot false on a container",
        RESTRICTED,
        pod(app={"runAsNonRoot": False}),
        {},
        'runAsNonRoot != true (container "app" must not set securityContext.runAsNonRoot=false)',
    ),
    (
        "runAsUser root",
        RESTRICTED,
        pod(app={"runAsUser": 0}),
        {},
        'runAsUser=0 (container "app" must not set runAsUser=0)',
    ),
    (
        "seccomp missing",
        RESTRICTED,
        pod(spec={"securityContext": {"runAsNonRoot": True}}),
        {},
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")',
    ),
]


@pytest.mark.parametrize(
    ("case", "level", "spec", "meta", "shown"), CASES, ids=[c[0] for c in CASES]
)
def test_each_check_refuses_at_its_level_and_passes_one_level_down(
    case: str, level: Level, spec: dict[str, Any], meta: dict[str, Any], shown: str
) -> None:
    assert detail(evaluate(LevelVersion(level), meta, spec)) == shown
    looser = PRIVILEGED if level is BASELINE else BASELINE
    assert evaluate(LevelVersion(looser), meta, spec) == []


def test_a_pod_that_meets_restricted_passes_every_level() -> None:
    for level in Level:
        assert evaluate(LevelVersion(level), {}, compliant()) == []


def test_baseline_names_violations_in_kubernetes_order() -> None:
    spec = pod(
        spec={"hostNetwork": True},
        app={"privileged": True},
        volumes=[{"name": "root", "hostPath": {"path": "/"}}],
    )
    assert detail(evaluate(LevelVersion(BASELINE), {}, spec)) == (
        'host namespaces (hostNetwork=true), privileged (container "app" must not set '
        'securityContext.privileged=true), hostPath volumes (volume "root")'
    )


def test_restricted_names_a_hostpath_once_as_a_restricted_volume() -> None:
    spec = pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    assert detail(evaluate(LevelVersion(RESTRICTED), {}, spec)) == (
        'restricted volume types (volumes ["root"] have restricted types)'
    )


@pytest.mark.parametrize(
    ("version", "refused"),
    [(Version(33), False), (Version(34), True), (LATEST, True)],
)
def test_a_pinned_version_skips_checks_added_after_it(version: Version, refused: bool) -> None:
    spec = pod(
        containers=[
            {**compliant()["containers"][0], "readinessProbe": {"tcpSocket": {"host": "x"}}}
        ]
    )
    assert bool(evaluate(LevelVersion(BASELINE, version), {}, spec)) is refused


@pytest.mark.parametrize(
    ("version", "refused"),
    [(Version(28), True), (Version(29), False), (Version(31), False)],
)
def test_the_safe_sysctls_grow_with_the_policy_version(version: Version, refused: bool) -> None:
    context = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    context["sysctls"] = [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]
    assert (
        bool(evaluate(LevelVersion(BASELINE, version), {}, pod(spec={"securityContext": context})))
        is refused
    )


def test_windows_pods_skip_the_linux_only_restricted_checks() -> None:
    spec = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True}}
    spec["containers"] = [{"name": "app", "image": "x"}]
    assert evaluate(LevelVersion(RESTRICTED), {}, spec) == []
    assert evaluate(LevelVersion(RESTRICTED, Version(24)), {}, spec) != []


DEFAULTS = Policy(LevelVersion(BASELINE), LevelVersion(BASELINE), LevelVersion(BASELINE))
P = "pod-security.kubernetes.io/"


def test_labels_choose_level_and_version_per_mode() -> None:
    labels = {P + "enforce": "restricted", P + "enforce-version": "v1.30", P + "warn": "privileged"}
    policy, causes = policy_for(labels, DEFAULTS)
    assert causes == []
    assert str(policy.enforce) == "restricted:v1.30"
    assert str(policy.warn) == "privileged:latest"
    assert str(policy.audit) == "baseline:latest"  # no label: the configured default


@pytest.mark.parametrize(
    ("label", "value", "message", "effective"),
    [
        (
            "enforce",
            "strict",
            "must be one of privileged, baseline, restricted",
            "restricted:latest",
        ),
        (
            "warn",
            "Baseline",
            "must be one of privileged, baseline, restricted",
            "privileged:latest",
        ),
        ("enforce-version", "1.30", 'must be "latest" or "v1.x"', "baseline:latest"),
        ("audit-version", "v2.1", 'must be "latest" or "v1.x"', "baseline:latest"),
    ],
)
def test_an_invalid_label_is_named_and_fails_closed_for_enforce_only(
    label: str, value: str, message: str, effective: str
) -> None:
    policy, causes = policy_for({P + label: value}, DEFAULTS)
    assert [c.to_dict() for c in causes] == [
        {
            "field": f"metadata.labels[{P}{label}]",
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "{value}": {message}',
        }
    ]
    assert str(policy.of(label.removesuffix("-version"))) == effective

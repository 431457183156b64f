"""Pod Security Admission: the built-in validating plugin.

An ``AdmissionHook`` (``registry.py``) in the admission chain, before the
validating webhooks, as Kubernetes' ``PodSecurity`` plugin is:

- Namespace create and update: the ``pod-security.kubernetes.io/*`` labels
  must parse (422 naming the label). Tightening ``enforce`` dry-runs the
  namespace's pods (at most ``max_pods_to_check``, for at most
  ``pod_check_timeout``) and warns about those that would now be refused.
- Pod create, and update when it matters (``podspecs.significant_update``):
  ``enforce`` refuses with 403, ``warn`` answers an HTTP Warning, ``audit``
  is logged (there is no audit log to annotate yet). Subresources that
  cannot change the pod's security (status, binding, exec, log...) pass.
- Workloads with a pod template: warn and audit only, never refused: their
  pods are refused when the controller creates them, which the controller
  reports as an Event.

The namespace's labels are read from the store on each checked write (one
key read), so a label change applies to the very next pod, on every API
server of a cluster. Exempt namespaces, users and runtime classes are in the
settings only, as Kubernetes keeps them in its admission configuration.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.api.validation import format_invalid_message
from orchestrator.apiserver.podsecurity import evaluator, podspecs
from orchestrator.apiserver.podsecurity.policy import (
    LABEL_PREFIX,
    MODES,
    Level,
    LevelVersion,
    Policy,
    parse_level,
    parse_version,
    policy_for,
)
from orchestrator.apiserver.podsecurity.results import Violation, as_dict
from orchestrator.apiserver.registry import AdmissionRequest, Registry

log = logging.getLogger(__name__)

# Pod subresources that cannot change what the policy checks (Kubernetes' list)
IGNORED_POD_SUBRESOURCES = frozenset(
    {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
)


@dataclass(frozen=True)
class PodSecuritySettings:
    enabled: bool = True  # off only to run as Kubernetes did before PodSecurity existed
    # Apps land in namespaces their owners did not label: baseline refuses what escapes a
    # container (hostPath, privileged, host network) and lets every ordinary app run.
    # Kubernetes' default is privileged everywhere; the issue asks for baseline.
    enforce: str = "baseline"
    enforce_version: str = "latest"
    # Warn and audit at the enforce level, so a Deployment whose pods would be refused says so
    # when it is applied (workloads are never refused). Restricted here would warn on every
    # ordinary manifest, which users learn to ignore.
    audit: str = "baseline"
    audit_version: str = "latest"
    warn: str = "baseline"
    warn_version: str = "latest"
    # The cluster's own namespaces and the platform's: their pods may need the host (node
    # agents, routers); nobody's app lands there. Labels there are ignored, as on Kubernetes.
    exempt_namespaces: tuple[str, ...] = (
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "paas-system",
    )
    exempt_usernames: tuple[str, ...] = ()
    exempt_runtime_classes: tuple[str, ...] = ()
    # Kubernetes' bounds on a namespace dry run: a label change stays a cheap write.
    max_pods_to_check: int = 3000
    pod_check_timeout: float = 1.0

    def default_policy(self) -> Policy:
        """The policy of a namespace without labels; ValueError names a bad setting."""
        chosen: dict[str, LevelVersion] = {}
        for mode in MODES:
            level_text = getattr(self, mode)
            version_text = getattr(self, f"{mode}_version")
            level, version = parse_level(level_text), parse_version(version_text)
            if level is None:
                raise ValueError(
                    f"pod security {mode} level {level_text!r}: must be one of privileged, "
                    "baseline, restricted"
                )
            if version is None:
                raise ValueError(
                    f'pod security {mode} version {version_text!r}: must be "latest" or "v1.x"'
                )
            chosen[mode] = LevelVersion(level, version)
        return Policy(chosen["enforce"], chosen["audit"], chosen["warn"])


class PodSecurity:
    def __init__(
        self, registry: Registry, types: ResourceTypes, settings: PodSecuritySettings
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.defaults = settings.default_policy()
        self._namespaces = types.require("", "Namespace")
        self._pods = types.require("", "Pod")

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def wants(self, rt: ResourceType) -> bool:
        """Pods, Namespaces and kinds with a pod template: other writes skip admission."""
        if not rt.group and rt.kind in ("Pod", "Namespace"):
            return True
        return podspecs.has_template(rt.group, rt.kind)

    async def mutate(self, request: AdmissionRequest) -> tuple[Obj | None, list[str]]:
        return None, []

    async def validate(self, request: AdmissionRequest) -> list[str]:
        rt = request.rt
        if request.operation == "DELETE" or request.obj is None:
            return []
        if not rt.group and rt.kind == "Namespace":
            return await self._namespace(request)
        if not rt.group and rt.kind == "Pod":
            return await self._pod(request)
        if podspecs.has_template(rt.group, rt.kind) and not request.subresource:
            return await self._workload(request)
        return []

    # -- pods and workloads ----------------------------------------------------------------

    async def _pod(self, request: AdmissionRequest) -> list[str]:
        if request.subresource in IGNORED_POD_SUBRESOURCES or self._exempt(request):
            return []
        policy, broken = await self._policy_of(request.namespace)
        if not broken and all(policy.of(m).level is Level.PRIVILEGED for m in MODES):
            return []
        obj = request.obj
        assert obj is not None
        if request.operation == "UPDATE" and request.old is not None:
            if not podspecs.significant_update(obj, request.old):
                return []
        meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
        return self._evaluate(request, policy, meta, spec, enforce=True)

    async def _workload(self, request: AdmissionRequest) -> list[str]:
        if self._exempt(request):
            return []
        policy, broken = await self._policy_of(request.namespace)
        if not broken and policy.warn.level is policy.audit.level is Level.PRIVILEGED:
            return []
        assert request.obj is not None
        template = podspecs.template_of(request.rt.group, request.rt.kind, request.obj)
        if template is None:
            return []
        return self._evaluate(request, policy, *template, enforce=False)

    def _exempt(self, request: AdmissionRequest) -> bool:
        s = self.settings
        return request.namespace in s.exempt_namespaces or (
            bool(request.opts.user) and request.opts.user in s.exempt_usernames
        )

    def _evaluate(
        self, request: AdmissionRequest, policy: Policy, meta: Obj, spec: Obj, *, enforce: bool
    ) -> list[str]:
        if spec.get("runtimeClassName") in self.settings.exempt_runtime_classes:
            return []
        done: dict[LevelVersion, list[Violation]] = {}

        def run(lv: LevelVersion) -> list[Violation]:
            if lv not in done:
                done[lv] = evaluator.evaluate(lv, meta, spec)
            return done[lv]

        refused = run(policy.enforce) if enforce else []
        audited = run(policy.audit)
        if audited:
            log.info(
                "%s %s/%s: %saudit-violations: would violate PodSecurity %r: %s",
                request.rt.plural,
                request.namespace,
                request.name,
                LABEL_PREFIX,
                str(policy.audit),
                evaluator.detail(audited),
            )
        if refused:
            raise errors.Forbidden(
                f'{request.rt.plural} "{request.name}" is forbidden: violates PodSecurity '
                f'"{policy.enforce}": {evaluator.detail(refused)}',
                details={"name": request.name, "kind": request.rt.plural},
            )
        warned = run(policy.warn)
        if not warned:
            return []
        return [f'would violate PodSecurity "{policy.warn}": {evaluator.detail(warned)}']

    async def _policy_of(self, namespace: str) -> tuple[Policy, bool]:
        try:
            ns = await self.registry.get(self._namespaces, "", namespace)
        except errors.NotFound:
            return self.defaults, False
        policy, causes = policy_for(_labels(ns), self.defaults)
        return policy, bool(causes)

    # -- namespaces --------------------------------------------------------------------------

    async def _namespace(self, request: AdmissionRequest) -> list[str]:
        if request.subresource:
            return []
        assert request.obj is not None
        labels = _labels(request.obj)
        new, causes = policy_for(labels, self.defaults)
        old: Policy | None = None
        old_labels: Mapping[str, str] = {}
        if request.operation == "UPDATE" and request.old is not None:
            old_labels = _labels(request.old)
            old, old_causes = policy_for(old_labels, self.defaults)
            if causes and [c.to_dict() for c in causes] == [c.to_dict() for c in old_causes]:
                causes = []  # stored before the plugin ran: an unrelated edit still goes through
        if causes:
            raise errors.Invalid(
                format_invalid_message("namespaces", request.name, causes),
                details={
                    "name": request.name,
                    "kind": "namespaces",
                    "causes": [c.to_dict() for c in causes],
                },
            )
        if request.name in self.settings.exempt_namespaces:
            if _policy_labels(labels) == _policy_labels(old_labels):
                return []
            return _exempt_warning(request.name, labels, new)
        if old is None or not _tightened(old.enforce, new.enforce):
            return []
        return await self._dry_run(request.name, new.enforce)

    async def _dry_run(self, namespace: str, enforce: LevelVersion) -> list[str]:
        """Kubernetes' EvaluatePodsInNamespace: who would be refused now, grouped by reasons."""
        s = self.settings
        pods, _, _ = await self.registry.list(self._pods, namespace)
        total = len(pods)
        deadline = time.monotonic() + s.pod_check_timeout
        groups: dict[str, tuple[str, int]] = {}  # reasons -> (first pod name, count)
        checked = 0
        for pod in pods[: s.max_pods_to_check]:
            checked += 1
            meta, spec = as_dict(pod.get("metadata")), as_dict(pod.get("spec"))
            if spec.get("runtimeClassName") not in s.exempt_runtime_classes:
                found = evaluator.evaluate(enforce, meta, spec)
                if found:
                    name = str(meta.get("name") or "")
                    first, count = groups.get(evaluator.reasons(found), (name, 0))
                    groups[evaluator.reasons(found)] = (min(first, name), count + 1)
            if time.monotonic() > deadline:
                break
        warnings: list[str] = []
        if checked < total:
            warnings.append(
                "new PodSecurity enforce level only checked against the first "
                f"{checked} of {total} existing pods"
            )
        if groups:
            warnings.append(
                f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce '
                f'level "{enforce}"'
            )
        named = sorted(_grouped(first, count, why) for why, (first, count) in groups.items())
        return warnings + named


def _grouped(first: str, count: int, why: str) -> str:
    if count == 1:
        return f"{first}: {why}"
    others = "1 other pod" if count == 2 else f"{count - 1} other pods"
    return f"{first} (and {others}): {why}"


def _tightened(old: LevelVersion, new: LevelVersion) -> bool:
    """Whether pods must be dry-run: enforce changed to something not obviously looser."""
    if new == old or new.level is Level.PRIVILEGED:
        return False
    return not (new.version == old.version and new.level.rank <= old.level.rank)


def _labels(obj: Obj) -> Mapping[str, str]:
    labels = as_dict(as_dict(obj.get("metadata")).get("labels"))
    return {k: v for k, v in labels.items() if isinstance(v, str)}


def _policy_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k.startswith(LABEL_PREFIX)}


def _exempt_warning(namespace: str, labels: Mapping[str, str], policy: Policy) -> list[str]:
    """Labels on an exempt namespace change nothing: say so rather than let them mislead."""
    modes = [m for m in MODES if any(k.startswith(f"{LABEL_PREFIX}{m}") for k in labels)]
    if not modes:
        return []
    said = ", ".join(f"{m}={policy.of(m)}" for m in modes)
    return [
        f'namespace "{namespace}" is exempt from Pod Security, and the policy ({said}) '
        "will be ignored"
    ]

"""No granting what you do not hold: the RBAC escalation check, as an admission plugin.

Kubernetes checks this in RBAC's storage, whatever the authorizer
(``pkg/registry/rbac``): writing a Role or ClusterRole needs, for each of
its rules, that the writer already holds it at that scope, unless the
writer may ``escalate`` that role; writing a RoleBinding or
ClusterRoleBinding needs that the writer holds every rule of the role it
names (in the binding's namespace, or cluster-wide), unless the writer may
``bind`` that role. An ``aggregationRule`` (in the new or old object) needs
the writer to hold everything. ``system:masters`` and the API server's own
writes (no user) are not checked; nor are updates that change only
ownerReferences or finalizers (the garbage collector's).

Refusals are 403 in Kubernetes' words, listing what is missing::

    clusterroles.rbac.authorization.k8s.io "x" is forbidden: user "alice"
    (groups=["dev" "system:authenticated"]) is attempting to grant RBAC
    permissions not currently held:
    {APIGroups:[""], Resources:["secrets"], Verbs:["list"]}
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType
from orchestrator.apiserver.authz.attributes import Attributes, Decision
from orchestrator.apiserver.authz.chain import AuthorizerChain
from orchestrator.apiserver.authz.rbac import GROUP, RBACAuthorizer
from orchestrator.apiserver.authz.rules import Rule, compile_rule, compile_rules, covers, describe
from orchestrator.apiserver.identity import UserInfo
from orchestrator.apiserver.registry import AdmissionRequest

_GC_FIELDS = ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation")
_EVERYTHING = compile_rule({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})


class EscalationCheck:
    """An ``AdmissionHook``: refuses role and binding writes that would grant more than held."""

    def __init__(self, chain: AuthorizerChain, rbac: RBACAuthorizer) -> None:
        self.chain = chain
        self.rbac = rbac

    @property
    def enabled(self) -> bool:
        return True

    def wants(self, rt: ResourceType) -> bool:
        """Only the four RBAC kinds: other writes skip admission for this hook."""
        return rt.group == GROUP

    async def mutate(self, request: AdmissionRequest) -> tuple[Obj | None, list[str]]:
        return None, []

    async def validate(self, request: AdmissionRequest) -> list[str]:
        rt = request.rt
        if rt.group != GROUP or request.operation == "DELETE" or request.obj is None:
            return []
        opts = request.opts
        if not opts.user:
            return []  # the API server itself (default policy, aggregation)
        user = UserInfo(opts.user, groups=opts.groups)
        if user.is_master or _only_gc_fields(request.obj, request.old):
            return []
        if rt.kind in ("Role", "ClusterRole"):
            self._check_role(request, user)
        else:
            self._check_binding(request, user)
        return []

    def _allowed(self, user: UserInfo, verb: str, resource: str, namespace: str, name: str) -> bool:
        attributes = Attributes(
            user,
            verb,
            api_group=GROUP,
            api_version="v1",
            resource=resource,
            namespace=namespace,
            name=name,
        )
        return self.chain.authorize(attributes)[0] is Decision.ALLOW

    def _check_role(self, request: AdmissionRequest, user: UserInfo) -> None:
        obj, old = request.obj or {}, request.old or {}
        namespace = request.namespace if request.rt.namespaced else ""
        held, problems = self.rbac.rules_for(user, namespace)
        if "aggregationRule" in obj or "aggregationRule" in old:
            if not covers(held, _EVERYTHING):
                raise errors.Forbidden(
                    f'{request.rt.group_resource} "{request.name}" is forbidden: must have '
                    "cluster-admin privileges to use the aggregationRule",
                    details=_details(request.rt.plural, request.name),
                )
            return
        if self._allowed(user, "escalate", request.rt.plural, namespace, request.name):
            return
        _confirm(request, user, held, problems, compile_rules(obj.get("rules")))

    def _check_binding(self, request: AdmissionRequest, user: UserInfo) -> None:
        obj = request.obj or {}
        ref = obj.get("roleRef")
        ref = ref if isinstance(ref, dict) else {}
        kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        namespace = request.namespace if request.rt.namespaced else ""
        role_resource = "clusterroles" if kind == "ClusterRole" else "roles"
        if self._allowed(user, "bind", role_resource, namespace, role_name):
            return
        role_namespace = namespace if kind == "Role" else ""
        role_key = f"/registry/{GROUP}/{role_resource}/"
        role_key += f"{role_namespace}/{role_name}" if role_namespace else role_name
        role = self.rbac.index.objects.get(role_key)
        if role is None:
            what = f"{role_resource}.{GROUP}"
            raise errors.Forbidden(
                f'{request.rt.group_resource} "{request.name}" is forbidden: '
                f'{what} "{role_name}" not found',
                details=_details(request.rt.plural, request.name),
            )
        held, problems = self.rbac.rules_for(user, namespace)
        _confirm(request, user, held, problems, compile_rules(role.get("rules")))


def _details(resource: str, name: str) -> dict[str, Any]:
    return {"name": name, "group": GROUP, "kind": resource}


def _confirm(
    request: AdmissionRequest,
    user: UserInfo,
    held: list[Rule],
    problems: list[str],
    wanted: tuple[Rule, ...],
) -> None:
    missing = [rule for rule in wanted if not covers(held, rule)]
    if not missing:
        return
    groups = " ".join(f'"{g}"' for g in user.groups)
    lines = "\n".join(describe(rule.source) for rule in missing)
    message = (
        f'{request.rt.group_resource} "{request.name}" is forbidden: user "{user.name}" '
        f"(groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{lines}"
    )
    if problems:
        message += f"; resolution errors: [{', '.join(problems)}]"
    raise errors.Forbidden(message, details=_details(request.rt.plural, request.name))


def _only_gc_fields(obj: Obj, old: Obj | None) -> bool:
    if old is None:
        return False

    def stripped(o: Obj) -> Obj:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in _GC_FIELDS}
        return {**o, "metadata": meta}

    return stripped(obj) == stripped(old)

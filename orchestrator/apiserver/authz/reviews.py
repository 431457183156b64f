"""The review kinds: "who am I", "may I", "may they", "what may I" (answered, never stored).

All create-only, answered 201 with the object sent plus its ``status``:

- ``authentication.k8s.io`` SelfSubjectReview (v1; v1beta1 and v1alpha1 too,
  which kubectl 1.26-1.27 ask): the caller's ``userInfo`` (``kubectl auth whoami``).
- ``authorization.k8s.io/v1`` SelfSubjectAccessReview (the caller),
  SubjectAccessReview (anyone, named by ``spec.user``/``groups``) and
  LocalSubjectAccessReview (the same, pinned to the namespace of its path):
  asked of the same authorizer chain requests go through, so the answer is
  what a real request would get (``kubectl auth can-i``).
- SelfSubjectRulesReview: the rules RBAC grants the caller in
  ``spec.namespace`` (``kubectl auth can-i --list``).

Who may create each is ordinary RBAC: ``system:basic-user`` lets every
authenticated user ask about itself, ``system:auth-delegator`` lets a
component ask about others.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import errors
from orchestrator.api.resources import ResourceType
from orchestrator.api.validation import format_invalid_message
from orchestrator.api.validation_causes import Cause, invalid
from orchestrator.apiserver.authz.attributes import Attributes, Decision
from orchestrator.apiserver.authz.chain import AuthorizerChain
from orchestrator.apiserver.authz.rules import Rule
from orchestrator.apiserver.identity import UserInfo

GROUPS = frozenset({"authentication.k8s.io", "authorization.k8s.io"})
KINDS = frozenset(
    {
        "SelfSubjectReview",
        "SubjectAccessReview",
        "LocalSubjectAccessReview",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
    }
)


def answer(
    chain: AuthorizerChain | None,
    caller: UserInfo | None,
    rt: ResourceType,
    namespace: str,
    body: Any,
) -> dict[str, Any]:
    """The review ``body`` with its status filled in for ``caller`` (None: authentication off)."""
    if not isinstance(body, dict) or body.get("kind", rt.kind) != rt.kind:
        raise errors.BadRequest(f"the body must be a {rt.kind} ({rt.api_version})")
    caller = caller or UserInfo("system:admin", groups=("system:masters", "system:authenticated"))
    version = str(body.get("apiVersion") or "")
    api_version = version if version.startswith(f"{rt.group}/") else rt.api_version
    metadata: dict[str, Any] = _dict(body.get("metadata"))
    review: dict[str, Any] = {
        "kind": rt.kind,
        "apiVersion": api_version,
        "metadata": {**metadata, "creationTimestamp": None},
    }
    spec = _dict(body.get("spec"))
    if rt.kind == "SelfSubjectReview":
        review["status"] = {"userInfo": caller.as_review()}
        return review
    review["spec"] = spec
    if rt.kind == "SelfSubjectRulesReview":
        review["status"] = _rules_status(chain, caller, str(spec.get("namespace") or ""))
        return review
    if rt.kind == "SelfSubjectAccessReview":
        subject = caller
    else:
        subject = _subject(spec)
    attributes = _attributes(rt, spec, subject, namespace, str(metadata.get("name") or ""))
    decision, reason = (Decision.ALLOW, "") if chain is None else chain.authorize(attributes)
    status: dict[str, Any] = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    review["status"] = status
    return review


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _subject(spec: dict[str, Any]) -> UserInfo:
    groups = spec.get("groups")
    groups = groups if isinstance(groups, list) else []
    extra = _dict(spec.get("extra"))
    return UserInfo(
        str(spec.get("user") or ""),
        str(spec.get("uid") or ""),
        tuple(str(g) for g in groups),
        {str(k): tuple(map(str, v)) for k, v in extra.items() if isinstance(v, list)},
    )


def _attributes(
    rt: ResourceType, spec: dict[str, Any], user: UserInfo, path_namespace: str, name: str
) -> Attributes:
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    causes: list[Cause] = []
    if resource is not None and non_resource is not None:
        causes.append(
            invalid(
                "spec.nonResourceAttributes",
                non_resource,
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if resource is None and non_resource is None:
        causes.append(
            invalid(
                "spec.resourceAttributes",
                None,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if rt.kind in ("SubjectAccessReview", "LocalSubjectAccessReview") and not (
        user.name or user.groups
    ):
        causes.append(invalid("spec.user", "", "at least one of user or group must be specified"))
    if rt.kind == "LocalSubjectAccessReview":
        if non_resource is not None:
            causes.append(
                invalid(
                    "spec.nonResourceAttributes", non_resource, "disallowed on this kind of request"
                )
            )
        if isinstance(resource, dict) and resource.get("namespace", "") != path_namespace:
            causes.append(
                invalid(
                    "spec.resourceAttributes.namespace",
                    resource.get("namespace", ""),
                    "must match metadata.namespace",
                )
            )
    if causes:
        raise errors.Invalid(
            format_invalid_message(rt.qualified_kind, name, causes),
            details={
                "name": name,
                "group": rt.group,
                "kind": rt.kind,
                "causes": [c.to_dict() for c in causes],
            },
        )
    if isinstance(non_resource, dict):
        return Attributes(
            user,
            str(non_resource.get("verb") or ""),
            resource_request=False,
            path=str(non_resource.get("path") or ""),
        )
    attrs = resource if isinstance(resource, dict) else {}
    return Attributes(
        user,
        str(attrs.get("verb") or ""),
        api_group=str(attrs.get("group") or ""),
        api_version=str(attrs.get("version") or ""),
        resource=str(attrs.get("resource") or ""),
        subresource=str(attrs.get("subresource") or ""),
        namespace=str(attrs.get("namespace") or ""),
        name=str(attrs.get("name") or ""),
    )


def _rules_status(chain: AuthorizerChain | None, user: UserInfo, namespace: str) -> dict[str, Any]:
    if chain is None:
        return {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    rules: list[Rule] = []
    problems: list[str] = []
    incomplete = False
    for authorizer in chain.authorizers:
        rules_for = getattr(authorizer, "rules_for", None)
        if rules_for is None:
            incomplete = True  # an authorizer that cannot list what it allows
            continue
        found, missing = rules_for(user, namespace)
        rules += found
        problems += missing
    resource_rules, url_rules = [], []
    for rule in rules:
        source = rule.source
        if rule.urls:
            url_rules.append(
                {"verbs": list(source.get("verbs") or []), "nonResourceURLs": list(rule.urls)}
            )
            continue
        entry: dict[str, Any] = {"verbs": list(source.get("verbs") or [])}
        for field in ("apiGroups", "resources", "resourceNames"):
            if source.get(field):
                entry[field] = list(source[field])
        resource_rules.append(entry)
    status: dict[str, Any] = {
        "resourceRules": resource_rules,
        "nonResourceRules": url_rules,
        "incomplete": incomplete or bool(problems),
    }
    if problems:
        status["evaluationError"] = ", ".join(problems)
    return status

"""The authorizer chain and the 403 it answers (Kubernetes' union authorizer).

``system:masters`` is allowed without asking anybody, as Kubernetes'
privileged-group authorizer does ahead of the configured modes. Then each
authorizer in turn: the first ALLOW or DENY decides; when all have no
opinion the request is refused with every reason given, joined by new
lines. The nodeauth work prepends the Node authorizer to ``authorizers``.

``forbidden`` words the refusal as Kubernetes' ``responsewriters.Forbidden``:
``pods "web" is forbidden: User "alice" cannot get resource "pods/log" in
API group "" in the namespace "dev"`` (the prefix names the bare resource,
the message the combined one), ``forbidden: User "alice" cannot get path
"/metrics"`` for non-resource requests.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.api import errors
from orchestrator.apiserver.authz.attributes import Attributes, Authorizer, Decision


class AlwaysAllow:
    """The ``AlwaysAllow`` mode: for tests of the HTTP layer that need no policy."""

    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class AuthorizerChain:
    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = list(authorizers)

    def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        if attributes.user.is_master:
            return Decision.ALLOW, ""
        reasons = []
        for authorizer in self.authorizers:
            decision, reason = authorizer.authorize(attributes)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return Decision.NO_OPINION, "\n".join(reasons)

    def check(self, attributes: Attributes) -> None:
        """Return when allowed; raise the 403 otherwise."""
        decision, reason = self.authorize(attributes)
        if decision is not Decision.ALLOW:
            raise forbidden(attributes, reason)


def refusal(attributes: Attributes) -> str:
    """``User "alice" cannot list resource "secrets" in API group "" in the namespace "dev"``."""
    user = attributes.user.name
    if not attributes.resource_request:
        return f'User "{user}" cannot {attributes.verb} path "{attributes.path}"'
    where = (
        f'in the namespace "{attributes.namespace}"'
        if attributes.namespace
        else "at the cluster scope"
    )
    return (
        f'User "{user}" cannot {attributes.verb} resource "{attributes.combined_resource}" '
        f'in API group "{attributes.api_group}" {where}'
    )


def forbidden(attributes: Attributes, reason: str = "") -> errors.Forbidden:
    message = refusal(attributes)
    if reason:
        message = f"{message}: {reason}"
    if not attributes.resource_request:
        return errors.Forbidden(f"forbidden: {message}")
    group, resource = attributes.api_group, attributes.resource
    qualified = f"{resource}.{group}" if group else resource
    subject = f'{qualified} "{attributes.name}"' if attributes.name else qualified
    details = {"kind": resource}
    if attributes.name:
        details["name"] = attributes.name
    if group:
        details["group"] = group
    return errors.Forbidden(f"{subject} is forbidden: {message}", details=details)

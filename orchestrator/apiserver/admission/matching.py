"""Whether a webhook is called for a request: pure functions over Attributes.

Kubernetes decides per webhook (``generic/webhook.go`` ``ShouldCallHook``,
``predicates/{rules,namespace,object}``), in this order:

1. configurations never admit themselves: requests on
   (Mutating|Validating)WebhookConfiguration and the admission policy kinds
   skip every webhook (``is_exempt``), so a broken webhook can be removed;
2. ``namespaceSelector``: cluster-scoped objects other than Namespaces always
   match; a Namespace matches on its own labels (the request's object on
   CREATE and UPDATE, the stored Namespace otherwise); other objects on their
   namespace's labels. An empty selector matches without a look-up;
3. ``objectSelector`` on the new **or** the old object's labels; with a
   non-empty selector a request without objects never matches;
4. ``rules``: operation, group, version, resource[/subresource] and scope
   must all match one rule. ``x`` is the object only, ``*`` every object,
   ``x/*`` the object and all its subresources, ``*/status`` every status
   subresource, ``*/*`` everything.

A namespace that does not exist answers 404, but only for a webhook whose
rules match (Kubernetes reports the selector's error last); the dispatcher
looks labels up lazily and passes them in (``None`` = not found).

Not done: ``matchPolicy: Equivalent`` (trying the other served versions of
the same resource, with conversion): every kind here is served in one
version or, for custom resources, in versions that differ only by name
(conversion None), so only exact matches are made. ``matchConditions``
(CEL) are not evaluated: a webhook with conditions is called whenever the
rest matches, and decides itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.api import errors
from orchestrator.api.selectors import (
    LabelSelector,
    SelectorError,
    selector_from_label_selector_object,
)
from orchestrator.apiserver.admission.attributes import Attributes
from orchestrator.apiserver.admission.failures import internal_error

ADMISSION_GROUP = "admissionregistration.k8s.io"
EXEMPT_KINDS = frozenset(
    {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    }
)


def is_exempt(attrs: Attributes) -> bool:
    """True for the admission configuration kinds, which no webhook ever sees."""
    return attrs.group == ADMISSION_GROUP and attrs.kind in EXEMPT_KINDS


def rule_matches(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    """One ``RuleWithOperations``: operation, group, version, resource and scope."""
    return (
        _scope_matches(rule.get("scope") or "*", attrs)
        and _listed(rule.get("operations"), attrs.operation)
        and _listed(rule.get("apiGroups"), attrs.group)
        and _listed(rule.get("apiVersions"), attrs.version)
        and any(_resource_matches(entry, attrs) for entry in rule.get("resources") or ())
    )


def rules_match(webhook: Mapping[str, Any], attrs: Attributes) -> bool:
    """True when any of the webhook's rules matches (no rules: never)."""
    return any(rule_matches(rule, attrs) for rule in webhook.get("rules") or ())


def _listed(values: Any, wanted: str) -> bool:
    return any(value == "*" or value == wanted for value in values or ())


def _resource_matches(entry: str, attrs: Attributes) -> bool:
    resource, _, sub = entry.partition("/")
    return resource in ("*", attrs.resource) and sub in ("*", attrs.subresource)


def _scope_matches(scope: str, attrs: Attributes) -> bool:
    if scope == "Namespaced":  # a Namespace is cluster-scoped, whatever its request says
        return not attrs.is_namespace and bool(attrs.namespace)
    if scope == "Cluster":
        return attrs.is_namespace or not attrs.namespace
    return scope == "*"


def parse_selector(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A webhook's label selector (absent = ``{}`` = everything); bad ones answer 500."""
    try:
        return selector_from_label_selector_object(selector if selector is not None else {})
    except SelectorError as exc:  # validation refuses these: only a stored relic gets here
        raise internal_error(str(exc)) from exc


def namespace_labels_needed(webhook: Mapping[str, Any], attrs: Attributes) -> str | None:
    """The namespace whose stored labels decide ``namespaceSelector``, or None if none does."""
    if not attrs.is_namespace and not attrs.namespace:
        return None  # cluster-scoped: always matches
    if parse_selector(webhook.get("namespaceSelector")).empty:
        return None
    if attrs.is_namespace and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        return None  # the Namespace's own labels, from the request's object
    return attrs.effective_namespace


def namespace_selector_matches(
    webhook: Mapping[str, Any], attrs: Attributes, stored_labels: Mapping[str, str] | None
) -> bool:
    """``namespaceSelector`` against the right labels; ``stored_labels`` None = namespace missing.

    Raises NotFound (``namespaces "x" not found``) when the namespace's labels
    are needed and it does not exist.
    """
    selector = parse_selector(webhook.get("namespaceSelector"))
    if (not attrs.is_namespace and not attrs.namespace) or selector.empty:
        return True
    if attrs.is_namespace and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        return selector.matches(_labels(attrs.object))
    if stored_labels is None:
        name = attrs.effective_namespace
        raise errors.NotFound(
            f'namespaces "{name}" not found', details={"name": name, "kind": "namespaces"}
        )
    return selector.matches(stored_labels)


def object_selector_matches(webhook: Mapping[str, Any], attrs: Attributes) -> bool:
    """``objectSelector`` on the new or the old object's labels."""
    selector = parse_selector(webhook.get("objectSelector"))
    if selector.empty:
        return True
    return any(
        isinstance(obj, Mapping)
        and isinstance(obj.get("metadata"), Mapping)
        and selector.matches(_labels(obj))
        for obj in (attrs.object, attrs.old_object)
    )


def webhook_applies(
    webhook: Mapping[str, Any], attrs: Attributes, stored_labels: Mapping[str, str] | None = None
) -> bool:
    """The whole decision for one webhook, in Kubernetes' order (see the module docstring)."""
    if is_exempt(attrs) or not rules_match(webhook, attrs):
        return False
    # The object selector before the namespace's: Kubernetes skips a webhook whose object
    # selector fails even when the namespace is missing (its 404 is only raised last).
    return object_selector_matches(webhook, attrs) and namespace_selector_matches(
        webhook, attrs, stored_labels
    )


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str]:
    if not isinstance(obj, Mapping):
        return {}
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}

"""Which webhooks a request reaches: rules, scope and selectors, as Kubernetes decides."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from orchestrator.api import errors
from orchestrator.apiserver.admission.attributes import Attributes
from orchestrator.apiserver.admission.matching import (
    is_exempt,
    namespace_labels_needed,
    rule_matches,
    webhook_applies,
)


def attrs(**fields: Any) -> Attributes:
    base: dict[str, Any] = {
        "operation": "CREATE",
        "group": "",
        "version": "v1",
        "resource": "pods",
        "kind": "Pod",
        "name": "web",
        "namespace": "default",
        "namespaced": True,
        "object": {"metadata": {"name": "web", "labels": {"app": "web"}}},
    }
    base.update(fields)
    return Attributes(**base)


def rule(**fields: Any) -> dict[str, Any]:
    base = {
        "operations": ["*"],
        "apiGroups": ["*"],
        "apiVersions": ["*"],
        "resources": ["*"],
        "scope": "*",
    }
    return {**base, **fields}


POD = attrs()
POD_STATUS = attrs(subresource="status", operation="UPDATE")
NAMESPACE = attrs(resource="namespaces", kind="Namespace", name="team", namespace="")
NODE = attrs(resource="nodes", kind="Node", name="n1", namespace="", namespaced=False)
DEPLOYMENT = attrs(group="apps", resource="deployments", kind="Deployment")


@pytest.mark.parametrize(
    ("resources", "request_", "matches"),
    [
        (["pods"], POD, True),
        (["pods"], POD_STATUS, False),  # "x" is the object only
        (["*"], POD, True),
        (["*"], POD_STATUS, False),  # "*" is every object, no subresource
        (["pods/*"], POD, True),  # "x/*" is x and its subresources
        (["pods/*"], POD_STATUS, True),
        (["*/status"], POD_STATUS, True),
        (["*/status"], POD, False),
        (["*/*"], POD_STATUS, True),
        (["*/*"], POD, True),
        (["pods/status"], POD_STATUS, True),
        (["deployments"], POD, False),
    ],
)
def test_resources_with_subresources(
    resources: list[str], request_: Attributes, matches: bool
) -> None:
    assert rule_matches(rule(resources=resources), request_) is matches


@pytest.mark.parametrize(
    ("fields", "request_", "matches"),
    [
        ({"operations": ["CREATE"]}, POD, True),
        ({"operations": ["UPDATE", "DELETE"]}, POD, False),
        ({"apiGroups": [""]}, POD, True),
        ({"apiGroups": [""]}, DEPLOYMENT, False),
        ({"apiGroups": ["apps"], "resources": ["deployments"]}, DEPLOYMENT, True),
        ({"apiVersions": ["v2"]}, POD, False),
        ({"scope": "Namespaced"}, POD, True),
        ({"scope": "Namespaced"}, NODE, False),
        ({"scope": "Namespaced"}, NAMESPACE, False),  # a Namespace is cluster-scoped
        ({"scope": "Cluster"}, NODE, True),
        ({"scope": "Cluster"}, NAMESPACE, True),
        ({"scope": "Cluster"}, POD, False),
        ({"scope": "*"}, NODE, True),
    ],
)
def test_operation_group_version_and_scope(
    fields: dict[str, Any], request_: Attributes, matches: bool
) -> None:
    assert rule_matches(rule(**fields), request_) is matches


def hook(**fields: Any) -> dict[str, Any]:
    return {"name": "a.b.c", "rules": [rule()], **fields}


def test_webhooks_never_see_webhook_configurations() -> None:
    request_ = attrs(
        group="admissionregistration.k8s.io",
        resource="validatingwebhookconfigurations",
        kind="ValidatingWebhookConfiguration",
        namespace="",
        namespaced=False,
    )
    assert is_exempt(request_)
    assert not webhook_applies(hook(), request_)


def test_a_webhook_without_rules_matches_nothing() -> None:
    assert not webhook_applies(hook(rules=[]), POD)


SELECT_PROD = {"matchLabels": {"env": "prod"}}


def test_namespace_selector_reads_the_namespace_labels() -> None:
    assert namespace_labels_needed(hook(namespaceSelector=SELECT_PROD), POD) == "default"
    assert webhook_applies(hook(namespaceSelector=SELECT_PROD), POD, {"env": "prod"})
    assert not webhook_applies(hook(namespaceSelector=SELECT_PROD), POD, {"env": "dev"})


def test_an_empty_namespace_selector_needs_no_lookup() -> None:
    assert namespace_labels_needed(hook(namespaceSelector={}), POD) is None
    assert webhook_applies(hook(namespaceSelector={}), POD, None)


def test_cluster_scoped_objects_always_match_the_namespace_selector() -> None:
    assert namespace_labels_needed(hook(namespaceSelector=SELECT_PROD), NODE) is None
    assert webhook_applies(hook(namespaceSelector=SELECT_PROD), NODE, None)


def test_a_namespace_being_created_or_updated_matches_on_its_own_labels() -> None:
    prod = replace(NAMESPACE, object={"metadata": {"name": "team", "labels": {"env": "prod"}}})
    assert namespace_labels_needed(hook(namespaceSelector=SELECT_PROD), prod) is None
    assert webhook_applies(hook(namespaceSelector=SELECT_PROD), prod, None)
    assert not webhook_applies(hook(namespaceSelector=SELECT_PROD), NAMESPACE, None)


def test_a_namespace_being_deleted_matches_on_its_stored_labels() -> None:
    deleting = replace(NAMESPACE, operation="DELETE", object=None)
    assert namespace_labels_needed(hook(namespaceSelector=SELECT_PROD), deleting) == "team"
    assert webhook_applies(hook(namespaceSelector=SELECT_PROD), deleting, {"env": "prod"})


def test_a_missing_namespace_answers_not_found_when_the_rules_match() -> None:
    with pytest.raises(errors.NotFound, match='namespaces "default" not found'):
        webhook_applies(hook(namespaceSelector=SELECT_PROD), POD, None)
    other = hook(namespaceSelector=SELECT_PROD, rules=[rule(resources=["services"])])
    assert not webhook_applies(other, POD, None)


@pytest.mark.parametrize(
    ("new_labels", "old_labels", "matches"),
    [
        ({"env": "prod"}, None, True),
        ({"env": "dev"}, {"env": "prod"}, True),  # the old object's labels count too
        ({"env": "dev"}, {"env": "dev"}, False),
        ({}, None, False),
    ],
)
def test_object_selector_on_new_or_old_labels(
    new_labels: dict[str, str], old_labels: dict[str, str] | None, matches: bool
) -> None:
    old = None if old_labels is None else {"metadata": {"labels": old_labels}}
    request_ = attrs(
        operation="UPDATE", object={"metadata": {"labels": new_labels}}, old_object=old
    )
    assert webhook_applies(hook(objectSelector=SELECT_PROD), request_) is matches


def test_requests_without_objects_never_match_an_object_selector() -> None:
    request_ = attrs(operation="CONNECT", object=None, subresource="exec")
    absent = {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}
    everything = [rule(resources=["*/*"])]
    assert not webhook_applies(hook(objectSelector=absent, rules=everything), request_)
    assert webhook_applies(hook(objectSelector={}, rules=everything), request_)


def test_the_object_selector_is_decided_before_the_namespace_lookup() -> None:
    unmatched = hook(objectSelector={"matchLabels": {"env": "x"}}, namespaceSelector=SELECT_PROD)
    assert not webhook_applies(unmatched, POD, None)  # no 404 for a webhook that does not apply

"""Which writes go through admission at all: a kind no hook looks at skips it.

The chain asks each hook's ``wants(rt)`` before a write; a write no hook wants
skips the mutating pass and its second defaulting. NodeRestriction looks at
Pods, Nodes and Leases only; the webhooks at what some configuration's rules
name, whatever the operation, version or selectors (the dispatcher's to decide).
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.apiserver.nodeauth.admission import NodeRestriction
from orchestrator.apiserver.webhooks import Admission

POD = BUILTIN_TYPES.require("", "Pod")
CONFIGMAP = BUILTIN_TYPES.require("", "ConfigMap")
DEPLOYMENT = BUILTIN_TYPES.require("apps", "Deployment")
LEASE = BUILTIN_TYPES.require("coordination.k8s.io", "Lease")
WIDGET = ResourceType("example.com", "v1", "Widget", "widgets", namespaced=True)


def admission_with(*rules: dict[str, Any]) -> Admission:
    admission = Admission(None, None, BUILTIN_TYPES)  # type: ignore[arg-type]
    config = {"metadata": {"name": "c"}, "webhooks": [{"name": "h", "rules": list(rules)}]}
    admission._apply(
        "/registry/admissionregistration.k8s.io/validatingwebhookconfigurations/c", "PUT", config
    )
    return admission


def rule(groups: list[str], resources: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "apiVersions": ["*"], "operations": ["*"], "resources": resources}


@pytest.mark.parametrize(
    ("rules", "wanted", "not_wanted"),
    [
        ([rule([""], ["pods"])], [POD], [CONFIGMAP, DEPLOYMENT, WIDGET]),
        ([rule([""], ["pods/status"])], [POD], [CONFIGMAP]),
        ([rule(["apps"], ["*"])], [DEPLOYMENT], [POD, WIDGET]),
        ([rule(["*"], ["*/scale"])], [POD, DEPLOYMENT, WIDGET], []),
        (
            [rule(["example.com"], ["widgets"]), rule([""], ["configmaps"])],
            [WIDGET, CONFIGMAP],
            [POD],
        ),
        ([{"apiGroups": "not a list"}], [POD, WIDGET], []),  # unreadable: asked, never skipped
    ],
)
def test_webhooks_want_what_their_rules_name(
    rules: list[dict[str, Any]], wanted: list[ResourceType], not_wanted: list[ResourceType]
) -> None:
    admission = admission_with(*rules)
    assert [rt.kind for rt in wanted if admission.wants(rt)] == [rt.kind for rt in wanted]
    assert [rt.kind for rt in not_wanted if admission.wants(rt)] == []


def test_a_configuration_removed_is_no_longer_wanted() -> None:
    admission = admission_with(rule([""], ["configmaps"]))
    assert admission.wants(CONFIGMAP)
    admission._apply(
        "/registry/admissionregistration.k8s.io/validatingwebhookconfigurations/c", "DELETE", {}
    )
    assert not admission.wants(CONFIGMAP)


def test_node_restriction_looks_at_pods_nodes_and_leases_only() -> None:
    plugin = NodeRestriction()
    node = BUILTIN_TYPES.require("", "Node")
    assert [plugin.wants(rt) for rt in (POD, node, LEASE)] == [True, True, True]
    assert [plugin.wants(rt) for rt in (CONFIGMAP, DEPLOYMENT, WIDGET)] == [False, False, False]

"""Request attributes from HTTP requests, and rule matching, as Kubernetes decides them."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from orchestrator.apiserver.authz.attributes import Attributes
from orchestrator.apiserver.authz.requestinfo import attributes_of
from orchestrator.apiserver.authz.rules import allows, compile_rule, covers
from orchestrator.apiserver.identity import UserInfo

ALICE = UserInfo("alice", groups=("system:authenticated",))


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/dev/pods", "", ("list", "", "pods", "", "dev", "")),
        ("GET", "/api/v1/namespaces/dev/pods", "watch=true", ("watch", "", "pods", "", "dev", "")),
        ("GET", "/api/v1/namespaces/dev/pods", "watch=false", ("list", "", "pods", "", "dev", "")),
        ("GET", "/api/v1/namespaces/dev/pods", "watch=0", ("list", "", "pods", "", "dev", "")),
        ("GET", "/api/v1/watch/namespaces/dev/pods", "", ("watch", "", "pods", "", "dev", "")),
        ("HEAD", "/api/v1/namespaces/dev/pods/web", "", ("get", "", "pods", "", "dev", "web")),
        (
            "GET",
            "/api/v1/namespaces/dev/pods/web/log",
            "",
            ("get", "", "pods", "log", "dev", "web"),
        ),
        (
            "POST",
            "/api/v1/namespaces/dev/pods/web/exec",
            "",
            ("create", "", "pods", "exec", "dev", "web"),
        ),
        (
            "POST",
            "/apis/apps/v1/namespaces/dev/deployments",
            "",
            ("create", "apps", "deployments", "", "dev", ""),
        ),
        (
            "PUT",
            "/apis/apps/v1/namespaces/dev/deployments/w/scale",
            "",
            ("update", "apps", "deployments", "scale", "dev", "w"),
        ),
        ("PATCH", "/api/v1/nodes/n1/status", "", ("patch", "", "nodes", "status", "", "n1")),
        (
            "DELETE",
            "/api/v1/namespaces/dev/configmaps",
            "",
            ("deletecollection", "", "configmaps", "", "dev", ""),
        ),
        ("DELETE", "/api/v1/namespaces/dev", "", ("delete", "", "namespaces", "", "dev", "dev")),
        (
            "PUT",
            "/api/v1/namespaces/dev/finalize",
            "",
            ("update", "", "namespaces", "finalize", "dev", "dev"),
        ),
        ("GET", "/api/v1/namespaces", "", ("list", "", "namespaces", "", "", "")),
        (
            "GET",
            "/api/v1/namespaces/dev/secrets",
            "fieldSelector=metadata.name%3Ddb&watch=1",
            ("watch", "", "secrets", "", "dev", "db"),
        ),
        (
            "GET",
            "/api/v1/namespaces/dev/secrets",
            "fieldSelector=metadata.name==db",
            ("list", "", "secrets", "", "dev", "db"),
        ),
    ],
)
def test_a_resource_request_is_read_as_kubernetes_reads_it(
    method: str, path: str, query: str, expected: tuple[str, ...]
) -> None:
    a = attributes_of(ALICE, method, path, unquote(query))
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == expected


@pytest.mark.parametrize(
    ("method", "path", "verb"),
    [
        ("GET", "/api", "get"),
        ("GET", "/apis/apps/v1", "get"),
        ("POST", "/metrics", "post"),
        ("GET", "/openapi/v3", "get"),
    ],
)
def test_discovery_and_other_paths_are_non_resource_requests(
    method: str, path: str, verb: str
) -> None:
    a = attributes_of(ALICE, method, path, "")
    assert not a.resource_request
    assert (a.verb, a.path) == (verb, path)


def _ask(verb: str, resource: str, sub: str = "", name: str = "", group: str = "") -> Attributes:
    return Attributes(
        ALICE, verb, api_group=group, resource=resource, subresource=sub, name=name, namespace="dev"
    )


@pytest.mark.parametrize(
    ("rule", "request_", "allowed"),
    [
        ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, _ask("get", "pods"), True),
        (
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
            _ask("get", "pods", "log"),
            False,
        ),
        (
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
            _ask("get", "pods", "log"),
            True,
        ),
        (
            {"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]},
            _ask("get", "pods", "log"),
            True,
        ),
        (
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            _ask("delete", "pods", "status"),
            True,
        ),
        (
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"]},
            _ask("get", "pods"),
            False,
        ),
        (
            {
                "verbs": ["get", "create"],
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": ["a"],
            },
            _ask("get", "configmaps", name="a"),
            True,
        ),
        (
            {
                "verbs": ["get", "create"],
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": ["a"],
            },
            _ask("create", "configmaps"),
            False,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/logs/*"]},
            Attributes(ALICE, "get", resource_request=False, path="/logs/x"),
            True,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/logs/*"]},
            Attributes(ALICE, "get", resource_request=False, path="/logs"),
            False,
        ),
        ({"verbs": ["get"], "nonResourceURLs": ["*"]}, _ask("get", "pods"), False),
    ],
)
def test_a_rule_allows_exactly_what_it_names(
    rule: dict, request_: Attributes, allowed: bool
) -> None:
    assert allows(compile_rule(rule), request_) is allowed


def test_holding_broader_rules_covers_narrower_ones_and_not_the_reverse() -> None:
    broad = [compile_rule({"verbs": ["*"], "apiGroups": [""], "resources": ["pods", "*/log"]})]
    narrow = compile_rule(
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}
    )
    assert covers(broad, narrow)
    assert not covers([narrow], broad[0])
    named = compile_rule(
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}
    )
    assert covers(broad, named)
    assert not covers(
        [named], compile_rule({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
    )

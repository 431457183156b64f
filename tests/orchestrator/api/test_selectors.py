"""Tables of cases for label and field selector parsing, matching and rendering."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.selectors import (
    FieldSelector,
    LabelSelector,
    Requirement,
    SelectorError,
    check_field_selector,
    field_value,
    find_label_key_error,
    find_label_value_error,
    format_label_selector,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector_object,
    selector_from_labels,
    supported_field,
)

WEB = {"app": "web", "tier": "frontend", "version": "3"}


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", ()),
        ("   ", ()),
        ("app=web", (Requirement("app", "=", ("web",)),)),
        ("app==web", (Requirement("app", "=", ("web",)),)),
        ("app!=web", (Requirement("app", "!=", ("web",)),)),
        ("app=", (Requirement("app", "=", ("",)),)),
        ("app", (Requirement("app", "exists"),)),
        ("!app", (Requirement("app", "!"),)),
        ("app in (web,api)", (Requirement("app", "in", ("api", "web")),)),
        ("app notin (web)", (Requirement("app", "notin", ("web",)),)),
        ("app in (a,,b)", (Requirement("app", "in", ("", "a", "b")),)),
        ("app in (,)", (Requirement("app", "in", ("",)),)),
        ("version>2", (Requirement("version", ">", ("2",)),)),
        ("version<10", (Requirement("version", "<", ("10",)),)),
        ("a=in", (Requirement("a", "=", ("in",)),)),
        (
            " app = web , tier in ( a , b ) ,  ! legacy ",
            (
                Requirement("app", "=", ("web",)),
                Requirement("tier", "in", ("a", "b")),
                Requirement("legacy", "!"),
            ),
        ),
        (
            "example.com/role=db,kubernetes.io/cluster-service=true",
            (
                Requirement("example.com/role", "=", ("db",)),
                Requirement("kubernetes.io/cluster-service", "=", ("true",)),
            ),
        ),
        ("app,!legacy", (Requirement("app", "exists"), Requirement("legacy", "!"))),
    ],
)
def test_parse_label_selector_builds_requirements(
    text: str, requirements: tuple[Requirement, ...]
) -> None:
    assert parse_label_selector(text) == LabelSelector(requirements)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("app=web,", "end of string"),
        (",app=web", "','"),
        ("app=web tier=x", "'tier'"),
        ("app in ()", "must not be empty"),
        ("app in (a", "end of string"),
        ("app in a", "'a'"),
        ("app in (a b)", "'b'"),
        ("app notin", "end of string"),
        ("!app=web", "'='"),
        ("app=(web)", "'('"),
        ("app=web=x", "'='"),
        ("app >", "must be an integer"),
        ("version>two", "'two'"),
        ("in=x", "'in'"),
        ("bad key=x", "'key'"),
        ("-app=x", "'-app'"),
        ("Example.com/app=x", "'Example.com/app'"),
        ("/app=x", "prefix part must not be empty"),
        ("example.com/=x", "name part must not be empty"),
        (f"{'a' * 64}=x", "name part"),
        (f"app={'v' * 64}", "label value"),
        ("app=-web", "'-web'"),
        ("app=web.", "'web.'"),
        ("app in (web,no/slash)", "'no/slash'"),
        ("a!b", "'!'"),
    ],
)
def test_parse_label_selector_rejects_and_names_the_bad_part(text: str, named: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(text)
    assert named in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", None, True),
        ("", WEB, True),
        ("app=web", WEB, True),
        ("app=web", None, False),
        ("app=api", WEB, False),
        ("app!=api", WEB, True),
        ("app!=web", WEB, False),
        ("missing!=x", WEB, True),
        ("app in (api,web)", WEB, True),
        ("app in (api)", WEB, False),
        ("missing in (a)", WEB, False),
        ("app notin (api)", WEB, True),
        ("app notin (web)", WEB, False),
        ("missing notin (a)", WEB, True),
        ("app", WEB, True),
        ("missing", WEB, False),
        ("!missing", WEB, True),
        ("!app", WEB, False),
        ("!app", None, True),
        ("version>2", WEB, True),
        ("version>3", WEB, False),
        ("version<4", WEB, True),
        ("tier>1", WEB, False),
        ("missing<1", WEB, False),
        ("app=web,tier=frontend", WEB, True),
        ("app=web,tier=backend", WEB, False),
        ("empty=", {"empty": ""}, True),
        ("empty=", {}, False),
        ("empty in (,x)", {"empty": ""}, True),
    ],
)
def test_label_selector_matches(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("app==web", "app=web"),
        (" app != web ", "app!=web"),
        ("app in (web, api, web)", "app in (api,web)"),
        ("app notin (x),!legacy,tier", "app notin (x),!legacy,tier"),
        ("version>2", "version>2"),
    ],
)
def test_label_selector_renders_canonical_text(text: str, canonical: str) -> None:
    rendered = str(parse_label_selector(text))
    assert rendered == canonical
    assert parse_label_selector(rendered) == parse_label_selector(text)


@pytest.mark.parametrize(
    ("sel", "text"),
    [
        ({}, ""),
        ({"matchLabels": {"app": "web"}}, "app=web"),
        ({"matchLabels": {"tier": "fe", "app": "web"}}, "app=web,tier=fe"),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "NotIn", "values": ["a"]},
                    {"key": "canary", "operator": "Exists", "values": []},
                ],
            },
            "app=web,canary,env in (dev,prod),!legacy,zone notin (a)",
        ),
        ({"matchLabels": None, "matchExpressions": None}, ""),
    ],
)
def test_format_label_selector_renders_structured_form(sel: dict[str, Any], text: str) -> None:
    assert format_label_selector(sel) == text
    assert selector_from_label_selector_object(sel) == parse_label_selector(text)


@pytest.mark.parametrize(
    ("sel", "labels", "expected"),
    [
        ({}, {"a": "b"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, {}, False),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, None, True),
    ],
)
def test_structured_selector_matches(
    sel: dict[str, Any], labels: dict[str, str] | None, expected: bool
) -> None:
    assert selector_from_label_selector_object(sel).matches(labels) is expected


def test_missing_structured_selector_selects_nothing() -> None:
    selector = selector_from_label_selector_object(None)
    assert selector.matches({}) is False
    assert selector.matches(WEB) is False
    assert not selector.empty
    assert LabelSelector().empty


@pytest.mark.parametrize(
    ("sel", "named"),
    [
        ({"matchLabels": {"app": "bad value"}}, "'bad value'"),
        ({"matchLabels": {"bad key": "x"}}, "'bad key'"),
        ({"matchLabels": ["app"]}, "matchLabels"),
        ({"matchExpressions": {"key": "a"}}, "matchExpressions"),
        (
            {"matchExpressions": [{"key": "a", "operator": "Equals"}]},
            "matchExpressions[0].operator",
        ),
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "must be non-empty"),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "must be empty",
        ),
        ({"matchExpressions": [{"operator": "Exists"}]}, "matchExpressions[0].key"),
        ({"matchExpressions": ["a"]}, "matchExpressions[0]"),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]},
            "matchExpressions[0].values",
        ),
    ],
)
def test_structured_selector_rejects_bad_input(sel: dict[str, Any], named: str) -> None:
    with pytest.raises(SelectorError) as caught:
        selector_from_label_selector_object(sel)
    assert named in str(caught.value)


def test_selector_from_labels_requires_every_label() -> None:
    selector = selector_from_labels({"tier": "fe", "app": "web"})
    assert str(selector) == "app=web,tier=fe"
    assert selector.matches({"app": "web", "tier": "fe", "extra": "1"})
    assert not selector.matches({"app": "web"})
    assert selector_from_labels(None).empty


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("app", True),
        ("a", True),
        ("app.kubernetes.io/name", True),
        ("node-role.kubernetes.io/control-plane", True),
        ("A_b.c-D", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("_app", False),
        ("app_", False),
        ("a/b/c", False),
        ("UPPER.com/x", False),
        (f"{'a' * 254}/x", False),
        ("", False),
    ],
)
def test_find_label_key_error(key: str, ok: bool) -> None:
    assert (find_label_key_error(key) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("web", True), ("1.2.3", True), ("a_b", True), ("-a", False), ("a b", False)],
)
def test_find_label_value_error(value: str, ok: bool) -> None:
    assert (find_label_value_error(value) is None) is ok


# -- field selectors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", ()),
        ("metadata.name=web", (("metadata.name", "=", "web"),)),
        ("metadata.name==web", (("metadata.name", "=", "web"),)),
        ("status.phase!=Failed", (("status.phase", "!=", "Failed"),)),
        ("involvedObject.namespace=", (("involvedObject.namespace", "=", ""),)),
        (
            "spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed",
            (
                ("spec.nodeName", "=", "n1"),
                ("status.phase", "!=", "Succeeded"),
                ("status.phase", "!=", "Failed"),
            ),
        ),
        (" metadata.name = web ", (("metadata.name", "=", "web"),)),
        (r"metadata.name=a\,b\=c\\d", (("metadata.name", "=", "a,b=c\\d"),)),
        ("a=x,,b=y", (("a", "=", "x"), ("b", "=", "y"))),
        ("a=!x", (("a", "=", "!x"),)),
    ],
)
def test_parse_field_selector(text: str, requirements: tuple[tuple[str, str, str], ...]) -> None:
    assert parse_field_selector(text).requirements == requirements


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("metadata.name", "'metadata.name'"),
        ("=web", "no field name"),
        ("a=b=c", "unescaped '='"),
        (r"a=b\x", "'\\x'"),
        ("a=b\\", "ends with"),
    ],
)
def test_parse_field_selector_rejects_and_names_the_bad_part(text: str, named: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_field_selector(text)
    assert named in str(caught.value)


POD = {
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIP": "10.244.0.5"},
}
EVENT = {
    "kind": "Event",
    "metadata": {"name": "n1.17a", "namespace": "default"},
    "involvedObject": {"kind": "Node", "name": "n1", "uid": "u-1"},
    "reason": "NodeReady",
    "type": "Normal",
    "source": {"component": "kubelet", "host": "n1"},
    "reportingController": "paas.dev/kubelet",
}


@pytest.mark.parametrize(
    ("obj", "path", "value"),
    [
        (POD, "metadata.name", "web-1"),
        (POD, "spec.nodeName", "n1"),
        (POD, "status.podIP", "10.244.0.5"),
        (POD, "status.nominatedNodeName", ""),
        (POD, "spec.nodeName.deeper", ""),
        (EVENT, "involvedObject.namespace", ""),
        (EVENT, "involvedObject.uid", "u-1"),
        (EVENT, "source", "kubelet"),
        (EVENT, "reportingComponent", "paas.dev/kubelet"),
        ({"kind": "Event", "reportingController": "ctl"}, "source", "ctl"),
        ({"kind": "Node", "spec": {}}, "spec.unschedulable", "false"),
        ({"kind": "Node", "spec": {"unschedulable": True}}, "spec.unschedulable", "true"),
        ({"kind": "Job", "status": {"succeeded": 2}}, "status.successful", "2"),
        ({"kind": "Job"}, "status.successful", "0"),
        ({"kind": "ReplicaSet", "status": {}}, "status.replicas", "0"),
        ({"kind": "Secret", "type": "Opaque"}, "type", "Opaque"),
        ({"spec": {"ports": [80]}}, "spec.ports", ""),
    ],
)
def test_field_value(obj: dict[str, Any], path: str, value: str) -> None:
    assert field_value(obj, path) == value


@pytest.mark.parametrize(
    ("obj", "text", "expected"),
    [
        (POD, "", True),
        (POD, "metadata.name=web-1", True),
        (POD, "metadata.name==web-2", False),
        (POD, "metadata.name!=web-2", True),
        (POD, "spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed", True),
        (POD, "spec.nodeName=n2,status.phase!=Succeeded", False),
        (POD, "spec.nodeName=n1,status.phase!=Running", False),
        (POD, "status.nominatedNodeName=", True),
        (EVENT, "involvedObject.name=n1,involvedObject.namespace=", True),
        (EVENT, "involvedObject.kind=Node,involvedObject.uid=u-2", False),
        (EVENT, "type!=Warning,source=kubelet", True),
    ],
)
def test_field_selector_matches(obj: dict[str, Any], text: str, expected: bool) -> None:
    assert parse_field_selector(text).matches(obj) is expected


def test_field_selector_required_value_and_text() -> None:
    selector = parse_field_selector("metadata.name==web,status.phase!=Failed")
    assert selector.required_value("metadata.name") == "web"
    assert selector.required_value("status.phase") is None
    assert str(selector) == "metadata.name=web,status.phase!=Failed"
    escaped = parse_field_selector(r"metadata.name=a\,b")
    assert parse_field_selector(str(escaped)) == escaped
    assert FieldSelector().empty


@pytest.mark.parametrize(
    ("kind", "field", "ok"),
    [
        ("Pod", "metadata.name", True),
        ("Widget", "metadata.namespace", True),
        ("Widget", "spec.x", False),
        ("Pod", "spec.nodeName", True),
        ("Pod", "spec.restartPolicy", True),
        ("Pod", "spec.schedulerName", True),
        ("Pod", "spec.serviceAccountName", True),
        ("Pod", "status.phase", True),
        ("Pod", "status.podIP", True),
        ("Pod", "status.nominatedNodeName", True),
        ("Pod", "metadata.labels", False),
        ("Event", "involvedObject.kind", True),
        ("Event", "involvedObject.fieldPath", True),
        ("Event", "involvedObject.resourceVersion", True),
        ("Event", "reportingComponent", True),
        ("Event", "source", True),
        ("Event", "type", True),
        ("Event", "message", False),
        ("Secret", "type", True),
        ("ConfigMap", "type", False),
        ("Node", "spec.unschedulable", True),
        ("Namespace", "status.phase", True),
        ("Job", "status.successful", True),
        ("ReplicaSet", "status.replicas", True),
        ("Deployment", "status.replicas", False),
    ],
)
def test_supported_field(kind: str, field: str, ok: bool) -> None:
    assert supported_field(kind, field) is ok


def test_check_field_selector_names_the_unsupported_field() -> None:
    check_field_selector("Pod", parse_field_selector("spec.nodeName=n1,metadata.name=x"))
    with pytest.raises(SelectorError, match=r"^field label not supported: spec\.replicas$"):
        check_field_selector("Deployment", parse_field_selector("spec.replicas=1"))

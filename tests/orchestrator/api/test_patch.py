"""Tables of cases for the three patch flavours (RFC 7386, RFC 6902, strategic merge)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from orchestrator.api.patch import (
    SCALAR_SET,
    ListRule,
    MalformedPatch,
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    find_list_rule,
)

# --------------------------------------------------------------------------- merge patch

MERGE_CASES = [
    # RFC 7386 appendix A, the cases whose target and patch are objects.
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    # Kubernetes-shaped: label removal, annotation add, scale.
    (
        {"metadata": {"labels": {"app": "web", "extra": "x"}}, "spec": {"replicas": 1}},
        {"metadata": {"labels": {"extra": None}, "annotations": {"a": "1"}}},
        {
            "metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"}},
            "spec": {"replicas": 1},
        },
    ),
    ({"spec": {"replicas": 1}}, {"spec": {"replicas": 3}}, {"spec": {"replicas": 3}}),
    ({"a": [1, 2]}, {"a": [None, 3]}, {"a": [None, 3]}),
    ({"a": 1}, {}, {"a": 1}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), MERGE_CASES)
def test_merge_patch(target: dict[str, Any], patch: dict[str, Any], expected: Any) -> None:
    before = copy.deepcopy((target, patch))
    assert apply_merge_patch(target, patch) == expected
    assert (target, patch) == before


@pytest.mark.parametrize("patch", [["a"], "x", 3, None])
def test_merge_patch_that_is_not_an_object_is_malformed(patch: Any) -> None:
    with pytest.raises(MalformedPatch, match="merge patch must be a JSON object"):
        apply_merge_patch({"a": 1}, patch)


def test_merge_patch_result_shares_nothing_with_the_patch() -> None:
    patch = {"a": {"b": [1]}}
    result = apply_merge_patch({}, patch)
    result["a"]["b"].append(2)
    assert patch == {"a": {"b": [1]}}


# --------------------------------------------------------------------------- json patch

JSON_PATCH_CASES = [
    # RFC 6902 appendix A.
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], None),
    (
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}, {"op": "replace", "path": "/~1", "value": 1}],
        {"/": 1, "~1": 10},
    ),
    ({"foo": "bar"}, [{"op": "add", "path": "/foo", "value": None}], {"foo": None}),
    # Beyond the RFC examples.
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ({"a": [1, 2]}, [{"op": "copy", "from": "/a/0", "path": "/a/-"}], {"a": [1, 2, 1]}),
    ({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ({"a": 1}, [{"op": "add", "path": "", "value": {"c": 3}}], {"c": 3}),
    ({"a": 1}, [{"op": "test", "path": "", "value": {"a": 1}}], {"a": 1}),
    ({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
    ({"": 1}, [{"op": "replace", "path": "/", "value": 2}], {"": 2}),
    ({"a": [1, 2, 3]}, [{"op": "replace", "path": "/a/2", "value": 9}], {"a": [1, 2, 9]}),
    ({"a": 1.0}, [{"op": "test", "path": "/a", "value": 1}], {"a": 1.0}),
    ({"a": 1}, [], {"a": 1}),
    # A copied value is one value in two places until one of them changes: neither sees it.
    (
        {"a": {"b": {"c": 1}}},
        [
            {"op": "copy", "from": "/a", "path": "/x"},
            {"op": "add", "path": "/a/b/d", "value": 2},
            {"op": "remove", "path": "/x/b/c"},
        ],
        {"a": {"b": {"c": 1, "d": 2}}, "x": {"b": {}}},
    ),
    (
        {"a": [{"n": 1}]},
        [
            {"op": "copy", "from": "/a", "path": "/a/0/again"},
            {"op": "replace", "path": "/a/0/again/0/n", "value": 2},
            {"op": "move", "from": "/a/0/again", "path": "/moved"},
        ],
        {"a": [{"n": 1}], "moved": [{"n": 2}]},
    ),
    ({"a": 1}, [{"op": "copy", "from": "", "path": "/self"}], {"a": 1, "self": {"a": 1}}),
]


@pytest.mark.parametrize(("target", "ops", "expected"), JSON_PATCH_CASES)
def test_json_patch(target: dict[str, Any], ops: list[Any], expected: Any) -> None:
    if expected is None:  # A.16, spelled out here to keep the table readable
        expected = {"foo": ["bar", ["abc", "def"]]}
    before = copy.deepcopy((target, ops))
    assert apply_json_patch(target, ops) == expected
    assert (target, ops) == before


def test_json_patch_replace_keeps_key_order() -> None:
    result = apply_json_patch(
        {"a": 1, "b": 2, "c": 3}, [{"op": "replace", "path": "/a", "value": 0}]
    )
    assert list(result) == ["a", "b", "c"]


def _deployment(annotations: dict[str, str] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web", "namespace": "default"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx:1.21"}]}}},
    }


ROLLOUT_UNDO = [
    {
        "op": "replace",
        "path": "/spec/template",
        "value": {"spec": {"containers": [{"name": "a", "image": "nginx:1.20"}]}},
    },
    {
        "op": "replace",
        "path": "/metadata/annotations",
        "value": {"deployment.kubernetes.io/revision": "3"},
    },
]


def test_rollout_undo_replaces_template_and_annotations() -> None:
    live = _deployment({"deployment.kubernetes.io/revision": "2"})
    result = apply_json_patch(live, ROLLOUT_UNDO)
    assert result["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "3"}
    assert result["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.20"


def test_rollout_undo_without_annotations_fails_naming_op_and_path() -> None:
    message = r"json patch operation 1 \(replace /metadata/annotations\): path does not exist"
    with pytest.raises(PatchError, match=message) as caught:
        apply_json_patch(_deployment(None), ROLLOUT_UNDO)
    assert not isinstance(caught.value, MalformedPatch)


JSON_PATCH_ERRORS = [
    # (target, ops, message fragment), all well-formed patches that cannot apply.
    ({"a": 1}, [{"op": "replace", "path": "/b", "value": 1}], r"0 \(replace /b\): path does not"),
    ({"a": 1}, [{"op": "remove", "path": "/b"}], r"0 \(remove /b\): path does not exist"),
    ({"a": 1}, [{"op": "remove", "path": "/a/b"}], r"0 \(remove /a/b\): path does not exist"),
    ({"a": 1}, [{"op": "add", "path": "/x/y", "value": 1}], r"0 \(add /x/y\): path does not"),
    ({"a": 1}, [{"op": "add", "path": "/a/y", "value": 1}], r"parent is a number"),
    (
        {"a": 1},
        [{"op": "test", "path": "/a", "value": 1}, {"op": "test", "path": "/a", "value": 2}],
        r"operation 1 \(test /a\): test failed",
    ),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], r"test failed"),
    ({"a": [1]}, [{"op": "test", "path": "/a", "value": [True]}], r"test failed"),
    ({"a": {"b": 1}}, [{"op": "test", "path": "/a", "value": {"c": 1}}], r"test failed"),
    ({"a": [1]}, [{"op": "add", "path": "/a/01", "value": 1}], r"'01' is not an array index"),
    ({"a": [1]}, [{"op": "add", "path": "/a/-1", "value": 1}], r"'-1' is not an array index"),
    ({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 1}], r"index 2 is out of range"),
    ({"a": [1]}, [{"op": "replace", "path": "/a/1", "value": 1}], r"index 1 is out of range"),
    ({"a": [1]}, [{"op": "remove", "path": "/a/-"}], r"'-' is not an array index"),
    ({"a": 1}, [{"op": "remove", "path": ""}], r"cannot remove the whole object"),
    ({"a": {"b": {}}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], r"its own children"),
    ({"a": 1}, [{"op": "copy", "from": "/z", "path": "/b"}], r"0 \(copy /b\): path does not"),
    ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], r"turned the object into an array"),
]


@pytest.mark.parametrize(("target", "ops", "message"), JSON_PATCH_ERRORS)
def test_json_patch_errors(target: dict[str, Any], ops: list[Any], message: str) -> None:
    before = copy.deepcopy(target)
    with pytest.raises(PatchError, match=message) as caught:
        apply_json_patch(target, ops)
    assert not isinstance(caught.value, MalformedPatch)
    assert target == before


JSON_PATCH_MALFORMED = [
    ({"op": "add", "path": "/a", "value": 1}, r"must be a JSON array, not an object"),
    ([1], r"operation 0: must be an object"),
    ([{"path": "/a"}], r"operation 0: op must be one of"),
    ([{"op": "merge", "path": "/a"}], r"op must be one of .* not 'merge'"),
    ([{"op": "add", "value": 1}], r"\(add None\): path must be a JSON pointer string"),
    ([{"op": "add", "path": "a", "value": 1}], r"path 'a' must start with '/'"),
    ([{"op": "add", "path": "/a~2", "value": 1}], r"'~' not followed by 0 or 1"),
    ([{"op": "add", "path": "/a"}], r"\(add /a\): value is missing"),
    ([{"op": "replace", "path": "/a"}], r"value is missing"),
    ([{"op": "test", "path": "/a"}], r"value is missing"),
    ([{"op": "move", "path": "/a"}], r"\(move /a\): from must be a JSON pointer string"),
    ([{"op": "copy", "path": "/a", "from": "x"}], r"from 'x' must start with '/'"),
    (
        [{"op": "test", "path": "/a", "value": 1}, {"op": "bogus", "path": "/a"}],
        r"operation 1: op must be one of",
    ),
]


@pytest.mark.parametrize(("ops", "message"), JSON_PATCH_MALFORMED)
def test_json_patch_malformed(ops: Any, message: str) -> None:
    with pytest.raises(MalformedPatch, match=message):
        apply_json_patch({"a": 1}, ops)


def test_json_patch_values_are_copied() -> None:
    value = {"x": [1]}
    result = apply_json_patch({}, [{"op": "add", "path": "/a", "value": value}])
    result["a"]["x"].append(2)
    assert value == {"x": [1]}


# --------------------------------------------------------------------------- list rules

RULE_CASES = [
    ("Deployment", ("spec", "template", "spec", "containers"), ListRule("name")),
    ("Deployment", ("spec", "template", "spec", "containers", "ports"), ListRule("containerPort")),
    ("Deployment", ("spec", "template", "spec", "initContainers", "env"), ListRule("name")),
    ("Deployment", ("spec", "template", "spec", "volumes"), ListRule("name")),
    ("Deployment", ("spec", "template", "spec", "tolerations"), None),
    ("Deployment", ("spec", "template", "spec", "containers", "args"), None),
    ("Deployment", ("spec", "containers"), None),
    ("Deployment", ("spec", "template", "metadata", "finalizers"), SCALAR_SET),
    ("Pod", ("spec", "containers", "volumeMounts"), ListRule("mountPath")),
    ("Pod", ("spec", "containers", "volumeDevices"), ListRule("devicePath")),
    ("Pod", ("spec", "ephemeralContainers"), ListRule("name")),
    ("Pod", ("spec", "hostAliases"), ListRule("ip")),
    ("Pod", ("spec", "imagePullSecrets"), ListRule("name")),
    ("Pod", ("spec", "resourceClaims"), ListRule("name")),
    ("Pod", ("spec", "topologySpreadConstraints"), ListRule("topologyKey")),
    ("Pod", ("status", "conditions"), ListRule("type")),
    ("Pod", ("status", "containerStatuses"), None),
    ("Pod", ("spec", "template", "spec", "containers"), None),
    ("ReplicaSet", ("spec", "template", "spec", "containers", "env"), ListRule("name")),
    ("Job", ("spec", "template", "spec", "volumes"), ListRule("name")),
    (
        "CronJob",
        ("spec", "jobTemplate", "spec", "template", "spec", "containers", "env"),
        ListRule("name"),
    ),
    ("CronJob", ("spec", "template", "spec", "containers"), None),
    ("Service", ("spec", "ports"), ListRule("port")),
    ("Service", ("spec", "containers"), None),
    ("Endpoints", ("subsets",), None),
    ("MutatingWebhookConfiguration", ("webhooks",), ListRule("name")),
    ("ValidatingWebhookConfiguration", ("webhooks",), ListRule("name")),
    ("ValidatingWebhookConfiguration", ("webhooks", "rules"), None),
    ("Node", ("status", "conditions"), ListRule("type")),
    ("Node", ("status", "addresses"), ListRule("type")),
    ("Node", ("spec", "taints"), None),
    ("ConfigMap", ("metadata", "ownerReferences"), ListRule("uid")),
    ("ConfigMap", ("metadata", "finalizers"), SCALAR_SET),
    ("App", ("status", "conditions"), ListRule("type")),
    ("App", ("spec", "containers"), None),
    ("App", ("spec", "status", "conditions"), None),
]


@pytest.mark.parametrize(("kind", "path", "expected"), RULE_CASES)
def test_find_list_rule(kind: str, path: tuple[str, ...], expected: ListRule | None) -> None:
    assert find_list_rule(kind, path) == expected


# --------------------------------------------------------------------------- strategic merge


def _pod(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": spec}


C_A = {"name": "a", "image": "x"}
C_B = {"name": "b", "image": "y"}

STRATEGIC_CASES = [
    # (id, kind, target, patch, expected)
    (
        "maps merge",
        "ConfigMap",
        {"data": {"a": "1"}},
        {"data": {"b": "2"}},
        {"data": {"a": "1", "b": "2"}},
    ),
    (
        "null deletes",
        "ConfigMap",
        {"data": {"a": "1", "b": "2"}},
        {"data": {"a": None}},
        {"data": {"b": "2"}},
    ),
    (
        "null on missing key",
        "ConfigMap",
        {"data": {}},
        {"data": {"z": None}, "x": None},
        {"data": {}},
    ),
    (
        "nulls in a new map dropped",
        "ConfigMap",
        {},
        {"data": {"a": "1", "b": None}},
        {"data": {"a": "1"}},
    ),
    (
        "keyed list: update in place",
        "Pod",
        _pod({"containers": [C_A, C_B]}),
        {"spec": {"containers": [{"name": "a", "image": "z"}]}},
        _pod({"containers": [{"name": "a", "image": "z"}, C_B]}),
    ),
    (
        "keyed list: new element appended in patch order",
        "Pod",
        _pod({"containers": [C_A]}),
        {"spec": {"containers": [{"name": "d"}, {"name": "c"}]}},
        _pod({"containers": [C_A, {"name": "d"}, {"name": "c"}]}),
    ),
    (
        "keyed list: delete one element",
        "Pod",
        _pod({"containers": [C_A, C_B]}),
        {"spec": {"containers": [{"$patch": "delete", "name": "a"}]}},
        _pod({"containers": [C_B]}),
    ),
    (
        "keyed list: delete a missing element is a no-op",
        "Pod",
        _pod({"containers": [C_A]}),
        {"spec": {"containers": [{"$patch": "delete", "name": "zz"}]}},
        _pod({"containers": [C_A]}),
    ),
    (
        "keyed list: replace directive",
        "Pod",
        _pod({"containers": [C_A, C_B]}),
        {
            "spec": {
                "containers": [
                    {"name": "c", "env": [{"name": "E", "x": None}]},
                    {"$patch": "replace"},
                ]
            }
        },
        _pod({"containers": [{"name": "c", "env": [{"name": "E"}]}]}),
    ),
    (
        "keyed list: nested merge by nested key",
        "Pod",
        _pod(
            {
                "containers": [
                    {"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}
                ]
            }
        ),
        {
            "spec": {
                "containers": [
                    {"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}
                ]
            }
        },
        _pod(
            {
                "containers": [
                    {
                        "name": "a",
                        "env": [
                            {"name": "X", "value": "1"},
                            {"name": "Y", "value": "3"},
                            {"name": "Z", "value": "4"},
                        ],
                    }
                ]
            }
        ),
    ),
    (
        "keyed list: null inside an element deletes a field",
        "Pod",
        _pod({"containers": [{"name": "a", "image": "x", "command": ["sh"]}]}),
        {"spec": {"containers": [{"name": "a", "command": None}]}},
        _pod({"containers": [{"name": "a", "image": "x"}]}),
    ),
    (
        "container ports merge by containerPort",
        "Pod",
        _pod({"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}),
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81}],
                    }
                ]
            }
        },
        _pod(
            {
                "containers": [
                    {
                        "name": "a",
                        "ports": [
                            {"containerPort": 80, "name": "http", "protocol": "TCP"},
                            {"containerPort": 81},
                        ],
                    }
                ]
            }
        ),
    ),
    (
        "service ports merge by port",
        "Service",
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
        {"spec": {"ports": [{"port": 80, "name": "http"}]}},
        {"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"}]}},
    ),
    (
        "lists without a merge key are replaced",
        "Pod",
        _pod({"containers": [{"name": "a", "args": ["1", "2"]}], "tolerations": [{"key": "k"}]}),
        {"spec": {"containers": [{"name": "a", "args": ["3"]}], "tolerations": [{"key": "j"}]}},
        _pod({"containers": [{"name": "a", "args": ["3"]}], "tolerations": [{"key": "j"}]}),
    ),
    (
        "endpoints subsets are replaced",
        "Endpoints",
        {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
        {"subsets": [{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]},
        {"subsets": [{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]},
    ),
    (
        "finalizers are a merged set",
        "ConfigMap",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["c", "a"]}},
        {"metadata": {"finalizers": ["a", "b", "c"]}},
    ),
    (
        "deleteFromPrimitiveList removes scalars",
        "ConfigMap",
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zz"]}},
        {"metadata": {"finalizers": ["a", "c"]}},
    ),
    (
        "deleteFromPrimitiveList with additions and order",
        "ConfigMap",
        {"metadata": {"finalizers": ["a", "b"]}},
        {
            "metadata": {
                "$setElementOrder/finalizers": ["c", "a"],
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "finalizers": ["c"],
            }
        },
        {"metadata": {"finalizers": ["c", "a"]}},
    ),
    (
        "deleteFromPrimitiveList on a missing list",
        "ConfigMap",
        {"metadata": {}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
        {"metadata": {}},
    ),
    (
        "scalar set replace directive",
        "ConfigMap",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": [{"$patch": "replace"}, "c"]}},
        {"metadata": {"finalizers": ["c"]}},
    ),
    (
        "ownerReferences merge by uid",
        "ReplicaSet",
        {"metadata": {"ownerReferences": [{"uid": "1", "name": "d", "controller": True}]}},
        {
            "metadata": {
                "ownerReferences": [{"uid": "1", "controller": None}, {"uid": "2", "name": "e"}]
            }
        },
        {"metadata": {"ownerReferences": [{"uid": "1", "name": "d"}, {"uid": "2", "name": "e"}]}},
    ),
    (
        "status conditions merge by type",
        "Deployment",
        {
            "status": {
                "conditions": [
                    {"type": "Available", "status": "False"},
                    {"type": "Progressing", "status": "True"},
                ]
            }
        },
        {"status": {"conditions": [{"type": "Available", "status": "True"}]}},
        {
            "status": {
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "True"},
                ]
            }
        },
    ),
    (
        "setElementOrder: listed order, deletions applied",
        "Pod",
        _pod({"containers": [C_A, C_B, {"name": "c"}]}),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                "containers": [{"$patch": "delete", "name": "b"}],
            }
        },
        _pod({"containers": [{"name": "c"}, C_A]}),
    ),
    (
        "setElementOrder: new element placed where listed",
        "Pod",
        _pod({"containers": [C_A, C_B]}),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "n"}, {"name": "b"}],
                "containers": [{"name": "n"}],
            }
        },
        _pod({"containers": [C_A, {"name": "n"}, C_B]}),
    ),
    (
        "setElementOrder: server-only element stays between its live neighbours",
        "Pod",
        _pod({"containers": [C_A, {"name": "s"}, C_B]}),
        {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]}},
        _pod({"containers": [C_A, {"name": "s"}, C_B]}),
    ),
    (
        # Kubernetes weaves by live position: s and t came before b, the first listed element.
        "setElementOrder: server-only elements woven in by live position",
        "Pod",
        _pod({"containers": [{"name": "s"}, C_A, {"name": "t"}, C_B]}),
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}},
        _pod({"containers": [{"name": "s"}, {"name": "t"}, C_B, C_A]}),
    ),
    (
        "setElementOrder without the list in the patch reorders the live list",
        "Pod",
        _pod({"containers": [C_A, C_B]}),
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}},
        _pod({"containers": [C_B, C_A]}),
    ),
    (
        "setElementOrder on a list nobody has is dropped",
        "Pod",
        _pod({}),
        {"spec": {"$setElementOrder/volumes": [{"name": "v"}]}},
        _pod({}),
    ),
    (
        "retainKeys drops unlisted keys",
        "Deployment",
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
    ),
    (
        "retainKeys in a volume element",
        "Pod",
        _pod({"volumes": [{"name": "v", "emptyDir": {}}]}),
        {
            "spec": {
                "volumes": [
                    {"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}
                ]
            }
        },
        _pod({"volumes": [{"name": "v", "configMap": {"name": "cm"}}]}),
    ),
    (
        "map replace directive",
        "Deployment",
        {"spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}}},
        {"spec": {"selector": {"$patch": "replace", "matchLabels": {"c": "3", "d": None}}}},
        {"spec": {"selector": {"matchLabels": {"c": "3"}}}},
    ),
    (
        "map delete directive removes the key",
        "Deployment",
        {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"}}},
        {"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}},
        {"spec": {"strategy": {"type": "RollingUpdate"}}},
    ),
    (
        "map delete directive on a missing key",
        "Deployment",
        {"spec": {}},
        {"spec": {"strategy": {"$patch": "delete"}}},
        {"spec": {}},
    ),
    (
        "explicit merge directive is a plain merge",
        "ConfigMap",
        {"data": {"a": "1"}},
        {"data": {"$patch": "merge", "b": "2"}},
        {"data": {"a": "1", "b": "2"}},
    ),
    (
        "directives stripped from values new to the object",
        "Pod",
        _pod({}),
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "$setElementOrder/env": [{"name": "E"}],
                        "env": [{"name": "E"}, {"$patch": "delete", "name": "F"}],
                        "resources": {"$patch": "replace", "limits": {"cpu": "1"}},
                    }
                ]
            }
        },
        _pod(
            {
                "containers": [
                    {"name": "a", "env": [{"name": "E"}], "resources": {"limits": {"cpu": "1"}}}
                ]
            }
        ),
    ),
    (
        "directive elements stripped from replaced lists",
        "Pod",
        _pod({"tolerations": [{"key": "k"}]}),
        {"spec": {"tolerations": [{"key": "j"}, {"$patch": "replace"}]}},
        _pod({"tolerations": [{"key": "j"}]}),
    ),
    (
        "type change takes the patch value",
        "ConfigMap",
        {"data": {"a": {"x": 1}}, "b": [1], "c": "s"},
        {"data": {"a": "flat"}, "b": {"k": "v"}, "c": [{"n": 1}]},
        {"data": {"a": "flat"}, "b": {"k": "v"}, "c": [{"n": 1}]},
    ),
    (
        "unknown kind: lists replaced, directives honoured",
        "App",
        {"spec": {"containers": [C_A], "m": {"a": 1}}},
        {"spec": {"containers": [C_B], "m": {"$patch": "replace", "b": 2}}},
        {"spec": {"containers": [C_B], "m": {"b": 2}}},
    ),
    (
        "unknown kind: status conditions still merge by type",
        "App",
        {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Built"}]}},
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Built"}]}},
    ),
    (
        "unknown dollar keys are ordinary fields",
        "App",
        {"spec": {"schema": {"$ref": "a"}}},
        {"spec": {"schema": {"$ref": "b"}}},
        {"spec": {"schema": {"$ref": "b"}}},
    ),
    (
        "cronjob pod template merges containers",
        "CronJob",
        {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [C_A, C_B]}}}}}},
        {
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "q"}]}}}
                }
            }
        },
        {
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {"spec": {"containers": [C_A, {"name": "b", "image": "q"}]}}
                    }
                }
            }
        },
    ),
    (
        "node addresses merge by type",
        "Node",
        {
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "1"},
                    {"type": "Hostname", "address": "n"},
                ]
            }
        },
        {"status": {"addresses": [{"type": "InternalIP", "address": "2"}]}},
        {
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "2"},
                    {"type": "Hostname", "address": "n"},
                ]
            }
        },
    ),
    (
        "top-level replace",
        "ConfigMap",
        {"data": {"a": "1"}},
        {"$patch": "replace", "kind": "ConfigMap"},
        {"kind": "ConfigMap"},
    ),
    ("top-level delete", "ConfigMap", {"data": {"a": "1"}}, {"$patch": "delete"}, {}),
    ("empty patch", "Pod", _pod({"containers": [C_A]}), {}, _pod({"containers": [C_A]})),
]


@pytest.mark.parametrize(
    ("kind", "target", "patch", "expected"),
    [case[1:] for case in STRATEGIC_CASES],
    ids=[case[0] for case in STRATEGIC_CASES],
)
def test_strategic_merge_patch(
    kind: str, target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = copy.deepcopy((target, patch))
    result = apply_strategic_merge_patch(target, patch, kind)
    assert result == expected
    assert (target, patch) == before
    assert not _directives_in(result)


def _directives_in(value: Any) -> list[str]:
    text = json.dumps(value)
    return [
        d
        for d in ("$patch", "$retainKeys", "$setElementOrder", "$deleteFromPrimitive")
        if d in text
    ]


# The live object kubectl's composite apply body (reference section 7.1) was computed against.
LIVE_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "uid": "0b6f7c8e-1111-2222-3333-444455556666",
        "resourceVersion": "41",
        "generation": 2,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "labels": {"app": "web", "extra": "yes"},
        "annotations": {
            "deployment.kubernetes.io/revision": "2",
            "kubectl.kubernetes.io/last-applied-configuration": '{"old":true}\n',
        },
    },
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "image": "nginx:1.19",
                        "env": [{"name": "MODE", "value": "old"}],
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "volumeMounts": [{"mountPath": "/v1", "name": "v1"}],
                        "terminationMessagePolicy": "File",
                    },
                    {"name": "b", "image": "busybox", "args": ["sleep", "3600"]},
                ],
                "volumes": [{"name": "v1", "emptyDir": {}}],
                "restartPolicy": "Always",
                "dnsPolicy": "ClusterFirst",
            },
        },
    },
    "status": {"replicas": 1, "observedGeneration": 2},
}

KUBECTL_DEPLOYMENT_PATCH = json.loads(
    """
{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"new\\":true}\\n"},
  "labels":{"extra":null}},
 "spec":{"replicas":3,
   "strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"},
   "template":{"spec":{
     "$setElementOrder/containers":[{"name":"a"}],
     "$setElementOrder/volumes":[{"name":"v2"}],
     "containers":[{"name":"a","env":null,"image":"nginx:1.20",
                    "$setElementOrder/volumeMounts":[{"mountPath":"/v2"}],
                    "volumeMounts":[{"mountPath":"/v2","name":"v2"},{"$patch":"delete","mountPath":"/v1"}]},
                   {"$patch":"delete","name":"b"}],
     "volumes":[{"configMap":{"name":"cm"},"name":"v2"},{"$patch":"delete","name":"v1"}]}}}}
"""
)


def test_kubectl_apply_deployment_composite() -> None:
    before = copy.deepcopy(LIVE_DEPLOYMENT)
    result = apply_strategic_merge_patch(LIVE_DEPLOYMENT, KUBECTL_DEPLOYMENT_PATCH, "Deployment")
    assert LIVE_DEPLOYMENT == before
    expected = copy.deepcopy(LIVE_DEPLOYMENT)
    expected["metadata"]["labels"] = {"app": "web"}
    expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
        '{"new":true}\n'
    )
    expected["spec"]["replicas"] = 3
    expected["spec"]["strategy"] = {"type": "Recreate"}
    expected["spec"]["template"]["spec"]["containers"] = [
        {
            "name": "a",
            "image": "nginx:1.20",
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "volumeMounts": [{"mountPath": "/v2", "name": "v2"}],
            "terminationMessagePolicy": "File",
        }
    ]
    expected["spec"]["template"]["spec"]["volumes"] = [{"configMap": {"name": "cm"}, "name": "v2"}]
    assert result == expected
    assert not _directives_in(result)


LIVE_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"},
    },
    "spec": {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.20",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
    },
}


def test_kubectl_apply_service_ports() -> None:
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x\n"}},
        "spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [{"name": "https", "port": 443}],
        },
    }
    result = apply_strategic_merge_patch(LIVE_SERVICE, patch, "Service")
    assert result["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "https", "port": 443},
    ]
    assert result["spec"]["clusterIP"] == "10.96.0.20"
    assert result["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": "x\n"
    }
    assert not _directives_in(result)


def test_kubectl_apply_service_ports_reordered_before_existing() -> None:
    patch = {
        "spec": {
            "$setElementOrder/ports": [{"port": 443}, {"port": 80}],
            "ports": [{"name": "https", "port": 443}],
        },
    }
    result = apply_strategic_merge_patch(LIVE_SERVICE, patch, "Service")
    assert [p["port"] for p in result["spec"]["ports"]] == [443, 80]


def test_kubectl_apply_changes_one_field_of_a_webhook_by_its_name() -> None:
    live = {
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "guard"},
        "webhooks": [
            {"name": "a.example.com", "sideEffects": "None", "failurePolicy": "Fail"},
            {"name": "b.example.com", "sideEffects": "None", "failurePolicy": "Fail"},
        ],
    }
    patch = {
        "$setElementOrder/webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}],
        "webhooks": [{"name": "b.example.com", "failurePolicy": "Ignore"}],
    }
    result = apply_strategic_merge_patch(live, patch, "ValidatingWebhookConfiguration")
    assert result["webhooks"] == [
        {"name": "a.example.com", "sideEffects": "None", "failurePolicy": "Fail"},
        {"name": "b.example.com", "sideEffects": "None", "failurePolicy": "Ignore"},
    ]


def test_set_image_style_patch_leaves_other_fields() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "busybox:2"}]}}}}
    result = apply_strategic_merge_patch(LIVE_DEPLOYMENT, patch, "Deployment")
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["nginx:1.19", "busybox:2"]
    assert containers[1]["args"] == ["sleep", "3600"]


def test_strategic_result_shares_nothing_with_inputs() -> None:
    target = _pod({"containers": [{"name": "a", "env": [{"name": "X"}]}]})
    patch = {"spec": {"containers": [{"name": "n", "env": [{"name": "Y"}]}]}}
    result = apply_strategic_merge_patch(target, patch, "Pod")
    for container in result["spec"]["containers"]:
        container["env"].append({"name": "Z"})
    assert target == _pod({"containers": [{"name": "a", "env": [{"name": "X"}]}]})
    assert patch == {"spec": {"containers": [{"name": "n", "env": [{"name": "Y"}]}]}}


STRATEGIC_MALFORMED = [
    ("Pod", ["x"], r"must be a JSON object, not an array"),
    ("Pod", {"spec": {"$patch": "bogus"}}, r"at spec: unknown \$patch directive 'bogus'"),
    ("Pod", {"spec": {"containers": ["a"]}}, r"spec.containers: element 0 must be an object"),
    (
        "Pod",
        {"spec": {"containers": [{"name": "a"}, {"image": "x"}]}},
        r"spec.containers: element 1 has no merge key 'name'",
    ),
    (
        "Pod",
        {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}},
        r"element 0 has \$patch 'delete'",
    ),
    ("Pod", {"spec": {"containers": [{"$patch": "merge", "name": "a"}]}}, r"\$patch 'merge'"),
    (
        "Service",
        {"spec": {"ports": [{"name": "http"}]}},
        r"spec.ports: element 0 has no merge key 'port'",
    ),
    ("Deployment", {"spec": {"strategy": {"$retainKeys": "type"}}}, r"\$retainKeys must be a list"),
    (
        "Deployment",
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}},
        r"field 'rollingUpdate' is set by the patch but not in \$retainKeys",
    ),
    ("Pod", {"spec": {"$setElementOrder/containers": "a"}}, r"spec.containers: \$setElementOrder"),
    ("Pod", {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, r"\$deleteFromPrimitive"),
    ("Pod", {"metadata": {"finalizers": [{"$patch": "delete"}]}}, r"unsupported list directive"),
]


@pytest.mark.parametrize(("kind", "patch", "message"), STRATEGIC_MALFORMED)
def test_strategic_merge_patch_malformed(kind: str, patch: Any, message: str) -> None:
    target = _pod({"containers": [{"name": "a"}]})
    with pytest.raises(MalformedPatch, match=message):
        apply_strategic_merge_patch(target, patch, kind)
    assert target == _pod({"containers": [{"name": "a"}]})

"""Pruning a custom resource by its schema (§4, apiextensions ``pruning/algorithm.go``)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.openapi import prune


def root(**spec: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": spec}}}


CASES = [
    (
        "undeclared field",
        root(a={"type": "string"}),
        {"spec": {"a": "x", "b": 1}},
        {"spec": {"a": "x"}},
        ["spec.b"],
    ),
    (
        "nested and in list items",
        root(
            items={
                "type": "array",
                "items": {"type": "object", "properties": {"x": {"type": "string"}}},
            }
        ),
        {"spec": {"items": [{"x": "a", "bar": 1}, {"x": "b"}]}},
        {"spec": {"items": [{"x": "a"}, {"x": "b"}]}},
        ["spec.items[0].bar"],
    ),
    (
        "additionalProperties keeps every key and prunes its values",
        root(
            m={
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}},
            }
        ),
        {"spec": {"m": {"k": {"v": "1", "w": 2}}}},
        {"spec": {"m": {"k": {"v": "1"}}}},
        ["spec.m.k.w"],
    ),
    (
        "preserve-unknown-fields keeps unknown keys but prunes declared children",
        root(
            p={
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"d": {"type": "object"}},
            }
        ),
        {"spec": {"p": {"free": {"any": 1}, "d": {"gone": 1}}}},
        {"spec": {"p": {"free": {"any": 1}, "d": {}}}},
        ["spec.p.d.gone"],
    ),
    (
        "items of a preserved list stay preserved",
        root(
            l={
                "type": "array",
                "x-kubernetes-preserve-unknown-fields": True,
                "items": {"type": "object"},
            }
        ),
        {"spec": {"l": [{"free": 1}]}},
        {"spec": {"l": [{"free": 1}]}},
        [],
    ),
    (
        "root apiVersion and kind stay; unknown root fields go",
        root(),
        {"apiVersion": "a/v1", "kind": "K", "status": {"x": 1}, "spec": {}},
        {"apiVersion": "a/v1", "kind": "K", "spec": {}},
        ["status"],
    ),
    (
        "embedded resource keeps its header and coerces its metadata",
        root(
            t={
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {"spec": {"type": "object"}},
            }
        ),
        {
            "spec": {
                "t": {
                    "apiVersion": "v1",
                    "kind": 3,
                    "metadata": {"name": "p", "bogus": 1},
                    "junk": 1,
                }
            }
        },
        {"spec": {"t": {"apiVersion": "v1", "metadata": {"name": "p"}}}},
        ["spec.t.junk", "spec.t.metadata.bogus"],
    ),
    (
        "integral floats become integers where the schema says integer",
        root(
            n={"type": "integer"},
            f={"type": "number"},
            l={"type": "array", "items": {"type": "integer"}},
        ),
        {"spec": {"n": 3.0, "f": 3.0, "l": [1.0, 2.5]}},
        {"spec": {"n": 3, "f": 3.0, "l": [1, 2.5]}},
        [],
    ),
]


@pytest.mark.parametrize(
    ("schema", "obj", "after", "removed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_prune_drops_what_the_schema_does_not_declare(
    schema: dict[str, Any], obj: dict[str, Any], after: dict[str, Any], removed: list[str]
) -> None:
    assert prune(obj, schema) == removed
    assert obj == after
    assert [type(v) for v in _leaves(obj)] == [type(v) for v in _leaves(after)]


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_removed_paths_are_sorted_as_kubernetes_sorts_them() -> None:
    obj = {"spec": {"zeta": 1, "alpha": 2}}

    assert prune(obj, root()) == ["spec.alpha", "spec.zeta"]


def test_root_metadata_is_reduced_to_object_meta() -> None:
    obj = {
        "metadata": {
            "name": "c1",
            "namespace": "default",
            "labels": {},
            "annotations": {"a": "b"},
            "creationTimestamp": None,
            "generation": "one",
            "foo": "bar",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "K", "name": "o", "uid": "u", "extra": 1}
            ],
        }
    }

    removed = prune(obj, root())

    assert obj["metadata"] == {
        "name": "c1",
        "namespace": "default",
        "annotations": {"a": "b"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "u"}],
    }
    assert removed == ["metadata.foo", "metadata.ownerReferences[0].extra"]


def test_a_value_without_schema_loses_its_keys() -> None:
    schema = root(m={"type": "object", "additionalProperties": True})
    obj = {"spec": {"m": {"scalar": 1, "object": {"k": "v"}}}}

    assert prune(obj, schema) == ["spec.m.object.k"]
    assert obj == {"spec": {"m": {"scalar": 1, "object": {}}}}


def test_not_root_prunes_metadata_silently() -> None:
    obj = {"metadata": {"name": "x"}, "a": 1}

    # Kubernetes does not report a top-level apiVersion, kind or metadata it prunes
    assert (
        prune(obj, {"type": "object", "properties": {"a": {"type": "integer"}}}, is_root=False)
        == []
    )
    assert obj == {"a": 1}

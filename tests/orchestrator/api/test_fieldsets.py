"""Field sets (FieldsV1), what a write changed, and the apply merge: pure functions, tables."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api import fieldpath
from orchestrator.api.applymerge import merge, remove
from orchestrator.api.fieldsets import compare, fields_of
from orchestrator.api.fieldshape import BuiltinShape, SchemaShape, shape_of

POD = BuiltinShape("Pod")


@pytest.mark.parametrize(
    ("a", "b", "union", "difference", "intersection"),
    [
        ({"f:a": {}}, {"f:b": {}}, {"f:a": {}, "f:b": {}}, {"f:a": {}}, {}),
        # a leaf member meets a prefix of the same node: the union is both, with "."
        ({"f:a": {}}, {"f:a": {"f:x": {}}}, {"f:a": {".": {}, "f:x": {}}}, {"f:a": {}}, {}),
        (
            {"f:a": {".": {}, "f:x": {}, "f:y": {}}},
            {"f:a": {"f:x": {}}},
            {"f:a": {".": {}, "f:x": {}, "f:y": {}}},
            {"f:a": {".": {}, "f:y": {}}},
            {"f:a": {"f:x": {}}},
        ),
        # removing the node itself keeps its children (a set of paths, not of subtrees)
        (
            {"f:a": {".": {}, "f:x": {}}},
            {"f:a": {}},
            {"f:a": {".": {}, "f:x": {}}},
            {"f:a": {"f:x": {}}},
            {"f:a": {}},
        ),
    ],
)
def test_set_algebra(
    a: dict[str, Any], b: dict[str, Any], union: Any, difference: Any, intersection: Any
) -> None:
    assert fieldpath.union(a, b) == union
    assert fieldpath.difference(a, b) == difference
    assert fieldpath.intersection(a, b) == intersection


def test_paths_print_as_kubernetes_prints_them() -> None:
    fields = {
        "f:spec": {
            "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}},
            "f:finalizers": {'v:"x"': {}},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {}},
        }
    }
    assert [fieldpath.path_string(p) for p in fieldpath.members(fields)] == [
        '.spec.containers[name="web"]',
        '.spec.containers[name="web"].image',
        '.spec.finalizers[="x"]',
        '.spec.ports[containerPort=80,protocol="TCP"]',
    ]


@pytest.mark.parametrize(
    "bad",
    [[], {"x:a": {}}, {"f:a": []}, {"k:[1]": {}}, {"i:one": {}}, {".": {"f:a": {}}}],
)
def test_malformed_fieldsv1_is_recognised(bad: Any) -> None:
    assert not fieldpath.is_valid(bad)


def test_applied_fields_own_leaves_and_keyed_items() -> None:
    config = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "nodeSelector": {"disk": "ssd"},  # atomic map: a leaf
            "containers": [
                {"name": "web", "image": "x", "args": ["a"], "ports": [{"containerPort": 80}]}
            ],
        },
    }
    assert fields_of(config, POD) == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:nodeSelector": {},
            "f:containers": {
                'k:{"name":"web"}': {
                    ".": {},
                    "f:name": {},
                    "f:image": {},
                    "f:args": {},
                    "f:ports": {
                        'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                    },
                }
            },
        },
    }


def test_compare_names_added_modified_and_removed_paths() -> None:
    old = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"containers": [{"name": "web", "image": "x"}, {"name": "old", "image": "y"}]},
    }
    new = {
        "metadata": {"labels": {"a": "9"}, "annotations": {"n": "1"}},
        "spec": {"containers": [{"name": "web", "image": "x"}, {"name": "new", "image": "z"}]},
    }
    changed = compare(old, new, POD)
    assert changed.modified == {"f:metadata": {"f:labels": {"f:a": {}}}}
    assert changed.added == {
        "f:metadata": {"f:annotations": {".": {}, "f:n": {}}},
        "f:spec": {"f:containers": {'k:{"name":"new"}': {".": {}, "f:name": {}, "f:image": {}}}},
    }
    assert changed.removed == {
        "f:metadata": {"f:labels": {"f:b": {}}},
        "f:spec": {"f:containers": {'k:{"name":"old"}': {".": {}, "f:name": {}, "f:image": {}}}},
    }
    assert compare(old, old, POD).same


@pytest.mark.parametrize(
    ("live", "config", "merged"),
    [
        # keyed list: merged item by item, a new item appended
        (
            {"containers": [{"name": "a", "image": "1", "x": 1}]},
            {"containers": [{"name": "b", "image": "2"}, {"name": "a", "image": "3"}]},
            {"containers": [{"name": "a", "image": "3", "x": 1}, {"name": "b", "image": "2"}]},
        ),
        # atomic list (args) and atomic map (nodeSelector): replaced
        (
            {"containers": [{"name": "a", "args": ["1", "2"]}], "nodeSelector": {"a": "1"}},
            {"containers": [{"name": "a", "args": ["3"]}], "nodeSelector": {"b": "2"}},
            {"containers": [{"name": "a", "args": ["3"]}], "nodeSelector": {"b": "2"}},
        ),
        # a null sets nothing
        (
            {"hostname": "h"},
            {"hostname": None, "subdomain": "s"},
            {"hostname": "h", "subdomain": "s"},
        ),
    ],
)
def test_merge_follows_list_and_map_types(live: Any, config: Any, merged: Any) -> None:
    assert merge({"spec": live}, {"spec": config}, POD) == {"spec": merged}


def test_remove_deletes_fields_and_keyed_items() -> None:
    obj = {"spec": {"hostname": "h", "containers": [{"name": "a", "image": "1"}, {"name": "b"}]}}
    gone = {"f:spec": {"f:hostname": {}, "f:containers": {'k:{"name":"b"}': {}}}}
    assert remove(obj, gone, POD) == {"spec": {"containers": [{"name": "a", "image": "1"}]}}
    assert obj["spec"]["hostname"] == "h"  # the input is left alone


def test_a_custom_schema_gives_list_and_map_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                        "items": {"type": "object"},
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set"},
                    "ref": {"type": "object", "x-kubernetes-map-type": "atomic"},
                },
            }
        },
    }
    shape = shape_of("Widget", schema)
    assert isinstance(shape, SchemaShape)
    fields = fields_of(
        {
            "spec": {
                "ports": [{"port": 1, "protocol": "UDP"}],
                "tags": ["a"],
                "ref": {"n": 1},
                "plain": [1, 2],
            },
            "metadata": {"finalizers": ["f"]},
        },
        shape,
    )
    assert fields == {
        "f:spec": {
            "f:ports": {'k:{"port":1,"protocol":"UDP"}': {".": {}, "f:port": {}, "f:protocol": {}}},
            "f:tags": {'v:"a"': {}},
            "f:ref": {},
            "f:plain": {},
        },
        "f:metadata": {"f:finalizers": {'v:"f"': {}}},
    }

"""Reads prune and default in one walk (``read_form``), leaving what the two walks leave."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from orchestrator.api.openapi import apply_defaults, plan_of, prune, read_form

S = {"type": "string"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": S,
        "kind": S,
        "metadata": {"type": "object", "properties": {"name": S}},
        "spec": {
            "type": "object",
            "default": {},
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "note": {"type": "string", "nullable": True},
                "mode": {"type": "string", "default": "fast"},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"deep": {"type": "integer", "default": 7}},
                },
                "free": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"known": {"type": "integer"}},
                },
                "anything": {"type": "object", "additionalProperties": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "counts": {"type": "array", "items": {"type": "integer", "default": 3}},
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"protocol": {"type": "string", "default": "TCP"}},
                    },
                },
                "untyped": {"type": "array"},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {
                        "apiVersion": {"type": "string", "default": "v1"},
                        "kind": S,
                        "metadata": {"type": "object"},
                        "spec": {"type": "object", "properties": {"a": {"type": "integer"}}},
                    },
                },
            },
        },
    },
}


@pytest.mark.parametrize(
    "spec",
    [
        None,
        {},
        {"replicas": None, "note": None, "mode": None, "unknown": 1},
        {"replicas": 2.0, "nested": None, "counts": [None, 1.0, 2]},
        {"nested": {"deep": None, "gone": {}}, "ports": [{}, None, {"protocol": "UDP", "x": 1}]},
        {"free": {"known": 3.0, "extra": {"kept": None}}, "anything": {"a": {"b": 1}, "c": [{}]}},
        {"labels": {"a": "x", "b": None}, "untyped": [{"a": 1}, [{"b": 2}], 3]},
        {"template": {"apiVersion": 5, "kind": "Pod", "metadata": {"name": "p", "x": 1}}},
        {"template": {"kind": "Pod", "metadata": None, "spec": {"a": 1.0, "z": 2}, "y": 3}},
    ],
)
def test_read_form_equals_prune_then_defaults(spec: Any):
    obj = {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n", "bogus": 1}, "spec": spec}
    if spec is None:
        del obj["spec"]
    two_walks = copy.deepcopy(obj)
    prune(two_walks, SCHEMA)
    apply_defaults(two_walks, SCHEMA)
    one_walk = copy.deepcopy(obj)
    read_form(one_walk, plan_of(SCHEMA))
    assert json.dumps(one_walk) == json.dumps(two_walks)  # key order included


def test_read_form_fills_a_default_added_to_the_schema_after_the_write():
    stored = {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {}}
    read_form(stored, plan_of(SCHEMA))
    assert stored["spec"] == {"replicas": 1, "mode": "fast", "nested": {"deep": 7}}

# ruff: noqa: E501  (tables of exact Kubernetes texts read better unbroken)
"""Defaulting a custom resource (§4, apiextensions ``defaulting/algorithm.go``, ``prunenulls.go``)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.openapi import apply_defaults

SPEC = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "name": {"type": "string"},
                "note": {"type": "string", "nullable": True},
                "mode": {"type": "string", "default": "fast"},
                "tags": {"type": "array", "items": {"type": "string", "default": "none"}},
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"protocol": {"type": "string", "default": "TCP"}},
                    },
                },
                "env": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"v": {"type": "string", "default": "x"}},
                    },
                },
            },
        }
    },
}
CASCADE = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "default": {},
            "properties": {
                "tls": {
                    "type": "object",
                    "default": {},
                    "properties": {"port": {"type": "integer", "default": 443}},
                }
            },
        }
    },
}

CASES = [
    ("no parent, no default", SPEC, {}, {}),
    (
        "defaults where the parent exists",
        SPEC,
        {"spec": {}},
        {"spec": {"replicas": 1, "mode": "fast"}},
    ),
    (
        "given values win",
        SPEC,
        {"spec": {"replicas": 3, "mode": "slow"}},
        {"spec": {"replicas": 3, "mode": "slow"}},
    ),
    (
        "null with a default becomes the default",
        SPEC,
        {"spec": {"replicas": None, "mode": "x"}},
        {"spec": {"replicas": 1, "mode": "x"}},
    ),
    (
        "null without a default is removed",
        SPEC,
        {"spec": {"name": None}},
        {"spec": {"replicas": 1, "mode": "fast"}},
    ),
    (
        "nullable null is kept",
        SPEC,
        {"spec": {"note": None}},
        {"spec": {"note": None, "replicas": 1, "mode": "fast"}},
    ),
    (
        "list items and null items",
        SPEC,
        {"spec": {"tags": ["a", None], "ports": [{}, {"protocol": "UDP"}]}},
        {
            "spec": {
                "tags": ["a", "none"],
                "ports": [{"protocol": "TCP"}, {"protocol": "UDP"}],
                "replicas": 1,
                "mode": "fast",
            }
        },
    ),
    (
        "additionalProperties values",
        SPEC,
        {"spec": {"env": {"a": {}, "b": {"v": "y"}}}},
        {"spec": {"env": {"a": {"v": "x"}, "b": {"v": "y"}}, "replicas": 1, "mode": "fast"}},
    ),
    ("default {} parents cascade", CASCADE, {}, {"spec": {"tls": {"port": 443}}}),
]


@pytest.mark.parametrize(
    ("schema", "obj", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_defaults_apply_the_kubernetes_way(
    schema: dict[str, Any], obj: dict[str, Any], after: dict[str, Any]
) -> None:
    apply_defaults(obj, schema)

    assert obj == after


def test_defaults_are_copies() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "default": {"list": []},
                "properties": {"list": {"type": "array", "items": {"type": "string"}}},
            }
        },
    }
    first: dict[str, Any] = {}
    second: dict[str, Any] = {}
    apply_defaults(first, schema)
    apply_defaults(second, schema)

    first["spec"]["list"].append("x")

    assert second == {"spec": {"list": []}}
    assert schema["properties"]["spec"]["default"] == {"list": []}

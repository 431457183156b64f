# ruff: noqa: E501  (tables of exact Kubernetes texts read better unbroken)
"""Custom resource validation against a CRD schema, in Kubernetes 1.31's words (§3.3).

Expected texts come from kube-openapi's ``errors/schema.go`` and
apiextensions' ``kubeOpenAPIResultToFieldErrors`` (validation_test.go there).
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.openapi import blocks_cel, validate
from orchestrator.api.validation_causes import Cause


def spec_of(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}


def rendered(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


CASES = [
    (
        "type error names the wrong type",
        {"replicas": {"type": "integer"}},
        {"replicas": "3"},
        [
            'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
        ],
    ),
    ("integral float passes as integer", {"replicas": {"type": "integer"}}, {"replicas": 3.0}, []),
    (
        "fractional float is a number",
        {"replicas": {"type": "integer"}},
        {"replicas": 3.5},
        [
            'spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"'
        ],
    ),
    ("integer passes as number", {"ratio": {"type": "number"}}, {"ratio": 2}, []),
    (
        "boolean is not an integer",
        {"replicas": {"type": "integer"}},
        {"replicas": True},
        [
            'spec.replicas: Invalid value: "boolean": spec.replicas in body must be of type integer: "boolean"'
        ],
    ),
    (
        "null fails a non-nullable field",
        {"name": {"type": "string"}},
        {"name": None},
        ['spec.name: Invalid value: "null": spec.name in body must be of type string: "null"'],
    ),
    (
        "null passes a nullable field",
        {"name": {"type": "string", "nullable": True}},
        {"name": None},
        [],
    ),
    (
        "int-or-string accepts both",
        {"port": {"x-kubernetes-int-or-string": True}},
        {"port": "http"},
        [],
    ),
    (
        "int-or-string refuses a list",
        {"port": {"x-kubernetes-int-or-string": True}},
        {"port": [1]},
        [
            'spec.port: Invalid value: "array": spec.port in body must be of type integer,string: "array"'
        ],
    ),
    (
        "preserve-unknown-fields without type accepts anything",
        {"any": {"x-kubernetes-preserve-unknown-fields": True}},
        {"any": [1, "x"]},
        [],
    ),
    (
        "enum",
        {"size": {"type": "string", "enum": ["small", "medium", "large"]}},
        {"size": "huge"},
        ['spec.size: Unsupported value: "huge": supported values: "small", "medium", "large"'],
    ),
    (
        "numeric enum values are quoted JSON",
        {"n": {"type": "integer", "enum": [1, 2]}},
        {"n": 5},
        ['spec.n: Unsupported value: 5: supported values: "1", "2"'],
    ),
    (
        "pattern",
        {"cron": {"type": "string", "pattern": r"^(\d+|\*)( (\d+|\*)){4}$"}},
        {"cron": "* * * *"},
        [
            r"""spec.cron: Invalid value: "* * * *": spec.cron in body should match '^(\d+|\*)( (\d+|\*)){4}$'"""
        ],
    ),
    (
        "pattern $ is the end of text, as in RE2",
        {"name": {"type": "string", "pattern": "^[a-z]+$"}},
        {"name": "abc\n"},
        ["spec.name: Invalid value: \"abc\\n\": spec.name in body should match '^[a-z]+$'"],
    ),
    (
        "minimum",
        {"replicas": {"type": "integer", "minimum": 1}},
        {"replicas": 0},
        [
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
        ],
    ),
    (
        "maximum",
        {"replicas": {"type": "integer", "maximum": 10}},
        {"replicas": 15},
        [
            "spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10"
        ],
    ),
    (
        "exclusive bounds",
        {
            "r": {
                "type": "number",
                "minimum": 1,
                "exclusiveMinimum": True,
                "maximum": 2,
                "exclusiveMaximum": True,
            }
        },
        {"r": 1},
        ["spec.r: Invalid value: 1: spec.r in body should be greater than 1"],
    ),
    (
        "float bound printed as Go prints it",
        {"r": {"type": "number", "maximum": 1000000}},
        {"r": 2.5e6},
        ["spec.r: Invalid value: 2.5e+06: spec.r in body should be less than or equal to 1e+06"],
    ),
    (
        "multipleOf",
        {"n": {"type": "integer", "multipleOf": 2}},
        {"n": 3},
        ["spec.n: Invalid value: 3: spec.n in body should be a multiple of 2"],
    ),
    (
        "maxLength uses the 1.31 wording",
        {"name": {"type": "string", "maxLength": 5}},
        {"name": "toolong"},
        ["spec.name: Too long: may not be longer than 5"],
    ),
    (
        "minLength",
        {"name": {"type": "string", "minLength": 3}},
        {"name": "ab"},
        ['spec.name: Invalid value: "ab": spec.name in body should be at least 3 chars long'],
    ),
    (
        "only the first string failure is reported",
        {"name": {"type": "string", "maxLength": 2, "pattern": "^x"}},
        {"name": "abc"},
        ["spec.name: Too long: may not be longer than 2"],
    ),
    (
        "maxItems",
        {"list": {"type": "array", "maxItems": 3, "items": {"type": "string"}}},
        {"list": ["a", "b", "c", "d"]},
        ["spec.list: Too many: 4: must have at most 3 items"],
    ),
    (
        "minItems",
        {"list": {"type": "array", "minItems": 1, "items": {"type": "string"}}},
        {"list": []},
        ["spec.list: Invalid value: 0: spec.list in body should have at least 1 items"],
    ),
    (
        "maxProperties speaks of items",
        {"m": {"type": "object", "maxProperties": 3, "additionalProperties": {"type": "string"}}},
        {"m": {"a": "1", "b": "2", "c": "3", "d": "4"}},
        ["spec.m: Too many: 4: must have at most 3 items"],
    ),
    (
        "minProperties",
        {"m": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}},
        {"m": {}},
        ["spec.m: Invalid value: 0: spec.m in body should have at least 1 properties"],
    ),
    (
        "map values are named with a dot",
        {"m": {"type": "object", "additionalProperties": {"type": "integer"}}},
        {"m": {"x": "y"}},
        ['spec.m.x: Invalid value: "string": spec.m.x in body must be of type integer: "string"'],
    ),
    (
        "list items are named by index",
        {"list": {"type": "array", "items": {"type": "integer"}}},
        {"list": [1, 2, "x"]},
        [
            'spec.list[2]: Invalid value: "string": spec.list[2] in body must be of type integer: "string"'
        ],
    ),
    (
        "an absent optional field is fine",
        {"color": {"type": "string"}},
        {},
        [],
    ),
    (
        "date-time format",
        {"when": {"type": "string", "format": "date-time"}},
        {"when": "yesterday"},
        [
            'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"'
        ],
    ),
    (
        "valid date-time",
        {"when": {"type": "string", "format": "date-time"}},
        {"when": "2024-01-02T03:04:05Z"},
        [],
    ),
    (
        "date format",
        {"d": {"type": "string", "format": "date"}},
        {"d": "2024-02-30"},
        ['spec.d: Invalid value: "2024-02-30": spec.d in body must be of type date: "2024-02-30"'],
    ),
    (
        "uuid format",
        {"u": {"type": "string", "format": "uuid"}},
        {"u": "nope"},
        ['spec.u: Invalid value: "nope": spec.u in body must be of type uuid: "nope"'],
    ),
    (
        "ipv4 format",
        {"ip": {"type": "string", "format": "ipv4"}},
        {"ip": "300.1.1.1"},
        ['spec.ip: Invalid value: "300.1.1.1": spec.ip in body must be of type ipv4: "300.1.1.1"'],
    ),
    ("ipv6 format", {"ip": {"type": "string", "format": "ipv6"}}, {"ip": "fe80::1"}, []),
    (
        "cidr format",
        {"c": {"type": "string", "format": "cidr"}},
        {"c": "10.0.0.0/33"},
        [
            'spec.c: Invalid value: "10.0.0.0/33": spec.c in body must be of type cidr: "10.0.0.0/33"'
        ],
    ),
    (
        "byte format is base64",
        {"b": {"type": "string", "format": "byte"}},
        {"b": "not base64!"},
        [
            'spec.b: Invalid value: "not base64!": spec.b in body must be of type byte: "not base64!"'
        ],
    ),
    ("duration format", {"t": {"type": "string", "format": "duration"}}, {"t": "1h30m"}, []),
    (
        "int32 is not range-checked (Kubernetes strips it)",
        {"n": {"type": "integer", "format": "int32"}},
        {"n": 1 << 40},
        [],
    ),
    (
        "unknown formats are ignored",
        {"s": {"type": "string", "format": "k8s-short-name"}},
        {"s": "A_B"},
        [],
    ),
    (
        "anyOf failing reports the branch that got furthest",
        {"v": {"type": "string", "anyOf": [{"maxLength": 2}, {"pattern": "^x"}]}},
        {"v": "abc"},
        [
            '<nil>: Invalid value: "": "spec.v" must validate at least one schema (anyOf)',
            "spec.v: Too long: may not be longer than 2",
        ],
    ),
    (
        "oneOf with two matches",
        {"v": {"type": "string", "oneOf": [{"minLength": 1}, {"pattern": "a"}]}},
        {"v": "abc"},
        [
            '<nil>: Invalid value: "": "spec.v" must validate one and only one schema (oneOf). Found 2 valid alternatives'
        ],
    ),
    (
        "allOf",
        {"v": {"type": "string", "allOf": [{"minLength": 5}]}},
        {"v": "abc"},
        [
            'spec.v: Invalid value: "abc": spec.v in body should be at least 5 chars long',
            '<nil>: Invalid value: "": "spec.v" must validate all the schemas (allOf). None validated',
        ],
    ),
    (
        "not",
        {"v": {"type": "string", "not": {"enum": ["x"]}}},
        {"v": "x"},
        ['<nil>: Invalid value: "": "spec.v" must not validate the schema (not)'],
    ),
    (
        "set list duplicates",
        {"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}},
        {"tags": ["a", "b", "a", "a"]},
        ['spec.tags[2]: Duplicate value: "a"'],
    ),
    (
        "set list keeps 1 and 1.0 apart, as Go's types do",
        {"n": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "number"}}},
        {"n": [1, 1.0]},
        [],
    ),
    (
        "map list duplicates show the keys as Go prints a map",
        {
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                },
            }
        },
        {"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]},
        ['spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}'],
    ),
    (
        "map list with two keys",
        {
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
                "items": {
                    "type": "object",
                    "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}},
                },
            }
        },
        {
            "ports": [
                {"port": 1, "protocol": "TCP"},
                {"port": 1, "protocol": "UDP"},
                {"port": 1, "protocol": "TCP"},
            ]
        },
        ['spec.ports[2]: Duplicate value: map[string]interface {}{"port":1, "protocol":"TCP"}'],
    ),
    (
        "embedded resource needs apiVersion and kind",
        {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        },
        {"template": {"metadata": {"name": "a/b"}}},
        [
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.template.kind: Required value: must not be empty",
            "spec.template.metadata.name: Invalid value: \"a/b\": may not contain '/'",
        ],
    ),
    (
        "embedded kind is a mixed-case DNS-1035 label",
        {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        },
        {"template": {"apiVersion": "v1", "kind": "Pod_X"}},
        [
            'spec.template.kind: Invalid value: "Pod_X": may have mixed case, but should otherwise match: '
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
            "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
]


@pytest.mark.parametrize(
    ("properties", "spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validation_reports_what_kubernetes_reports(
    properties: dict[str, Any], spec: dict[str, Any], expected: list[str]
) -> None:
    assert rendered(validate({"spec": spec}, spec_of(**properties))) == expected


def test_required_field_is_reported_without_detail() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "required": ["color"]}}}

    causes = validate({"spec": {}}, schema)

    assert [(c.field, c.reason, c.message) for c in causes] == [
        ("spec.color", "FieldValueRequired", "Required value")
    ]


def test_reasons_follow_the_failure() -> None:
    schema = spec_of(
        n={"type": "integer"},
        s={"type": "string", "maxLength": 1},
        e={"type": "string", "enum": ["a"]},
        l={"type": "array", "maxItems": 0, "items": {"type": "string"}},
        m={"type": "integer", "maximum": 1},
    )

    causes = validate({"spec": {"n": "x", "s": "xx", "e": "b", "l": ["x"], "m": 2}}, schema)

    assert [c.reason for c in causes] == [
        "FieldValueTypeInvalid",
        "FieldValueTooLong",
        "FieldValueNotSupported",
        "FieldValueTooMany",
        "FieldValueInvalid",
    ]


def test_all_violations_are_reported_at_once_schema_then_embedded_then_lists() -> None:
    schema = spec_of(
        tags={"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        t={
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "x-kubernetes-preserve-unknown-fields": True,
        },
        n={"type": "integer", "maximum": 1},
    )

    causes = validate({"spec": {"tags": ["a", "a"], "t": {"kind": "K"}, "n": 2}}, schema)

    assert [c.field for c in causes] == ["spec.n", "spec.t.apiVersion", "spec.tags[1]"]


def test_field_prefixes_every_path() -> None:
    schema = {"type": "object", "properties": {"replicas": {"type": "integer"}}}

    causes = validate({"replicas": "x"}, schema, "status")

    assert [c.field for c in causes] == ["status.replicas"]


def test_root_metadata_meets_the_name_restrictions_the_schema_declares() -> None:
    schema = {
        "type": "object",
        "properties": {
            "metadata": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 3}},
            }
        },
    }

    causes = validate({"metadata": {"name": "toolong"}}, schema)

    assert rendered(causes) == ["metadata.name: Too long: may not be longer than 3"]


@pytest.mark.parametrize(
    ("reason", "blocks"),
    [
        ("FieldValueNotSupported", True),
        ("FieldValueRequired", True),
        ("FieldValueTooLong", True),
        ("FieldValueTooMany", True),
        ("FieldValueTypeInvalid", True),
        ("FieldValueInvalid", False),
        ("FieldValueDuplicate", False),
        ("FieldValueForbidden", False),
    ],
)
def test_blocks_cel_after_the_errors_kubernetes_names(reason: str, blocks: bool) -> None:
    assert blocks_cel([Cause("spec.x", reason, "m")]) is blocks


def test_validation_does_not_mutate_the_object() -> None:
    obj = {"spec": {"replicas": 3.0, "extra": 1}}

    validate(obj, spec_of(replicas={"type": "integer"}))

    assert obj == {"spec": {"replicas": 3.0, "extra": 1}}

# ruff: noqa: E501  (tables of exact Kubernetes texts read better unbroken)
"""Which CRD schemas Kubernetes refuses, and in which words (§1.2).

Texts from apiextensions' ``schema/validation.go``, ``complete.go``,
``defaulting/validation.go`` and ``apis/apiextensions/validation``.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.openapi import check_structural, format_warnings

P = "spec.versions[0].schema.openAPIV3Schema"


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def messages(schema: Any, **options: Any) -> list[str]:
    return [f"{c.field}: {c.message}" for c in check_structural(schema, P, **options)]


CASES = [
    ("a plain object schema is fine", obj(spec=obj(replicas={"type": "integer"})), []),
    ("root without type", {}, [f"{P}.type: Required value: must not be empty at the root"]),
    (
        "root not an object",
        {"type": "string"},
        [f'{P}.type: Invalid value: "string": must be object at the root'],
    ),
    (
        "untyped field",
        obj(a={}),
        [f"{P}.properties[a].type: Required value: must not be empty for specified object fields"],
    ),
    (
        "untyped array items",
        obj(a={"type": "array", "items": {}}),
        [
            f"{P}.properties[a].items.type: Required value: must not be empty for specified array items"
        ],
    ),
    ("int-or-string needs no type", obj(a={"x-kubernetes-int-or-string": True}), []),
    (
        "preserve-unknown-fields needs no type",
        obj(a={"x-kubernetes-preserve-unknown-fields": True}),
        [],
    ),
    (
        "array without items",
        obj(s={"type": "array"}),
        [f"{P}.properties[s].items: Required value: must be specified"],
    ),
    (
        "junctor field must exist outside",
        {**obj(f={"type": "string"}), "anyOf": [{"properties": {"f": {}, "g": {}}}]},
        [f"{P}.properties[g]: Required value: because it is defined in {P}.anyOf[0].properties[g]"],
    ),
    (
        "type, title and description inside junctors",
        obj(f={"type": "string", "allOf": [{"type": "string", "title": "t", "description": "d"}]}),
        [
            f"{P}.properties[f].allOf[0].description: Forbidden: must be empty to be structural",
            f"{P}.properties[f].allOf[0].title: Forbidden: must be empty to be structural",
            f"{P}.properties[f].allOf[0].type: Forbidden: must be empty to be structural",
        ],
    ),
    (
        "default, additionalProperties and nullable inside junctors",
        obj(
            f={
                "type": "string",
                "oneOf": [{"default": "x", "additionalProperties": True, "nullable": True}],
            }
        ),
        [
            f"{P}.properties[f].oneOf[0].additionalProperties: Forbidden: must be undefined to be structural",
            f"{P}.properties[f].oneOf[0].default: Forbidden: must be undefined to be structural",
            f"{P}.properties[f].oneOf[0].nullable: Forbidden: must be false to be structural",
        ],
    ),
    (
        "extensions and metadata inside junctors",
        obj(
            f={
                "type": "object",
                "not": {"x-kubernetes-list-type": "set", "properties": {"metadata": {}}},
            }
        ),
        [
            f"{P}.properties[f].not.properties[metadata]: Forbidden: must not be specified in a nested context",
            f"{P}.properties[f].not.x-kubernetes-list-type: Forbidden: must be undefined to be structural",
            # the keyword rules run inside junctors too
            f"{P}.properties[f].not.type: Required value: must be array if x-kubernetes-list-type is specified",
        ],
    ),
    (
        "int-or-string's own anyOf is exempt",
        obj(
            p={
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            }
        ),
        [],
    ),
    (
        "root metadata restricting more than names",
        obj(metadata=obj(name={"type": "string"}, labels={"type": "object"})),
        [
            f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and "
            "generateName, but metadata is implicitly specified"
        ],
    ),
    (
        "root metadata restricting the name",
        obj(metadata=obj(name={"type": "string", "maxLength": 10})),
        [],
    ),
    (
        "additionalProperties at the root",
        {"type": "object", "additionalProperties": {"type": "string"}},
        [f"{P}.additionalProperties: Forbidden: must not be used at the root"],
    ),
    (
        "embedded resource without properties",
        obj(t={"type": "object", "x-kubernetes-embedded-resource": True}),
        [
            f"{P}.properties[t].properties: Required value: must not be empty if "
            "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
        ],
    ),
    (
        "embedded resource not an object",
        obj(
            t={
                "type": "string",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        ),
        [
            f'{P}.properties[t].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true'
        ],
    ),
    (
        "uniqueItems",
        obj(l={"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        [
            f"{P}.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        ],
    ),
    ("$ref", obj(r={"$ref": "#/x"}), [f"{P}.properties[r].$ref: Forbidden: $ref is not supported"]),
    (
        "id",
        obj(r={"type": "string", "id": "x"}),
        [f"{P}.properties[r].id: Forbidden: id is not supported"],
    ),
    (
        "patternProperties",
        obj(r={"type": "object", "patternProperties": {"a": {"type": "string"}}}),
        [
            f"{P}.properties[r].patternProperties: Forbidden: patternProperties is not supported",
        ],
    ),
    (
        "type null",
        obj(n={"type": "null"}),
        [
            f'{P}.properties[n].type: Unsupported value: "null": supported values: "array", "boolean", '
            '"integer", "number", "object", "string"',
            f"{P}.properties[n].type: Forbidden: type cannot be set to null, use nullable as an alternative",
        ],
    ),
    (
        "array-form items",
        obj(l={"type": "array", "items": [{"type": "string"}]}),
        [f"{P}.properties[l].items: Forbidden: items must be a schema object and not an array"],
    ),
    (
        "root nullable",
        {"type": "object", "nullable": True},
        [f"{P}.nullable: Forbidden: nullable cannot be true at the root"],
    ),
    (
        "properties with additionalProperties",
        obj(
            m={
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            }
        ),
        [
            f"{P}.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        ],
    ),
    (
        "properties with additionalProperties true is fine",
        obj(
            m={
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": True,
            }
        ),
        [],
    ),
    (
        "preserve-unknown-fields false",
        obj(p={"type": "object", "x-kubernetes-preserve-unknown-fields": False}),
        [
            f"{P}.properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
        ],
    ),
    (
        "list-type on a non-array",
        obj(l={"type": "string", "x-kubernetes-list-type": "set"}),
        [
            f'{P}.properties[l].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified'
        ],
    ),
    (
        "unknown list-type",
        obj(l={"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"}),
        [
            f'{P}.properties[l].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map"'
        ],
    ),
    (
        "map list without keys",
        obj(
            l={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "items": {"type": "object", "properties": {"a": {"type": "string"}}},
            }
        ),
        [
            f"{P}.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
        ],
    ),
    (
        "map list keys must be optional-free scalars",
        obj(
            l={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name", "sub", "missing"],
                "items": obj(name={"type": "string", "nullable": True}, sub={"type": "object"}),
            }
        ),
        [
            f'{P}.properties[l].items.properties[sub].type: Invalid value: "object": must be a scalar type '
            "if parent array's x-kubernetes-list-type is map",
            f'{P}.properties[l].x-kubernetes-list-map-keys: Invalid value: []string{{"name", "sub", "missing"}}: '
            "entries must all be names of item properties",
            f"{P}.properties[l].items.properties[name].default: Required value: this property is in "
            "x-kubernetes-list-map-keys, so it must have a default or be a required property",
            f"{P}.properties[l].items.properties[name].nullable: Forbidden: this property is in "
            "x-kubernetes-list-map-keys, so it cannot be nullable",
            f"{P}.properties[l].items.properties[sub].default: Required value: this property is in "
            "x-kubernetes-list-map-keys, so it must have a default or be a required property",
        ],
    ),
    (
        "map-list-keys without list-type map",
        obj(
            l={
                "type": "array",
                "items": obj(a={"type": "string"}),
                "x-kubernetes-list-map-keys": ["a"],
            }
        ),
        [
            f"{P}.properties[l].x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is non-empty"
        ],
    ),
    (
        "set of objects must be atomic",
        obj(
            l={"type": "array", "x-kubernetes-list-type": "set", "items": obj(a={"type": "string"})}
        ),
        [
            f"{P}.properties[l].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set"
        ],
    ),
    (
        "default in root metadata",
        obj(metadata={"type": "object", "default": {"name": "x"}}),
        [f"{P}.properties[metadata].default: Forbidden: must not be set in top-level metadata"],
    ),
    (
        "invalid default",
        obj(spec=obj(r={"type": "integer", "default": "x"})),
        [
            f'{P}.properties[spec].properties[r].default: Invalid value: "string":  in body must be of type integer: "string"'
        ],
    ),
    (
        "default that pruning would change",
        obj(spec={"type": "object", "default": {"a": 1}, "properties": {"b": {"type": "integer"}}}),
        [
            f'{P}.properties[spec].default: Invalid value: map[string]interface {{}}{{"a":1}}: must not have unknown fields'
        ],
    ),
    (
        "default breaking a nested rule",
        obj(
            spec={
                "type": "object",
                "default": {"b": 20},
                "properties": {"b": {"type": "integer", "maximum": 10}},
            }
        ),
        [
            f"{P}.properties[spec].default.b: Invalid value: 20: b in body should be less than or equal to 10"
        ],
    ),
    (
        "invalid pattern",
        obj(s={"type": "string", "pattern": "(?=x)"}),
        [
            f'{P}.properties[s].pattern: Invalid value: "(?=x)": must be a valid regular expression, '
            "but isn't: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"
        ],
    ),
]


@pytest.mark.parametrize(("schema", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schema_is_refused_for_what_kubernetes_refuses(
    schema: dict[str, Any], expected: list[str]
) -> None:
    assert messages(schema) == expected


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (obj(status={"type": "object"}), []),
        (
            {**obj(a={"type": "string"}), "anyOf": [{"required": ["a"]}]},
            "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum "
            "MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items "
            "Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed "
            "at the root of the schema if the status subresource is enabled",
        ),
        (
            {"type": "object", "additionalProperties": True},
            "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum "
            "MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items "
            "Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed "
            "at the root of the schema if the status subresource is enabled",
        ),
    ],
)
def test_status_subresource_restricts_the_root(schema: dict[str, Any], expected: Any) -> None:
    causes = check_structural(schema, P, status_subresource=True)

    if expected == []:
        assert causes == []
    else:
        assert causes[0].field == P
        assert causes[0].message.endswith(expected)


def test_structural_errors_come_sorted_as_kubernetes_sorts_them() -> None:
    causes = check_structural(obj(z={}, a={}), P)

    assert [c.field for c in causes] == [f"{P}.properties[a].type", f"{P}.properties[z].type"]


def test_defaults_are_checked_only_once_the_schema_is_structural() -> None:
    schema = obj(a={}, r={"type": "integer", "default": "x"})

    assert [c.field for c in check_structural(schema, P)] == [f"{P}.properties[a].type"]


def test_format_warnings_name_each_unknown_format() -> None:
    schema = obj(
        a={"type": "string", "format": "foo"},
        b={"type": "integer", "format": "int32"},
        c={"type": "string", "format": "date-time"},
        d={"type": "integer", "format": "date"},
        e={"type": "array", "items": {"type": "number", "format": "double"}},
    )

    assert format_warnings(schema) == ['unrecognized format "foo"', 'unrecognized format "date"']

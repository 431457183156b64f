"""Bad x-kubernetes-validations entries refused at CRD write, with Kubernetes v1.31's causes."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.openapi.cel import compile_rules

FIELD = "spec.versions[0].schema.openAPIV3Schema"
SPEC_PATH = f"{FIELD}.properties[spec].x-kubernetes-validations[0]"
INT = {"type": "integer"}


def spec_with(entry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    spec = {
        "type": "object",
        "properties": properties or {"replicas": INT, "maxReplicas": INT},
        "x-kubernetes-validations": [entry],
    }
    return {"type": "object", "properties": {"spec": spec}}


def causes_of(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    rules, causes = compile_rules(schema, FIELD)
    if causes:
        assert not rules
    return [(c.field, c.reason, c.message) for c in causes]


def go_rule(
    rule: str, reason: str = "nil", optional: str = "nil", message_expression: str = ""
) -> str:
    return (
        f'apiextensions.ValidationRule{{Rule:"{rule}", Message:"", '
        f'MessageExpression:"{message_expression}", '
        f"Reason:(*apiextensions.FieldValueErrorReason)({reason}), "
        f'FieldPath:"", OptionalOldSelf:(*bool)({optional})}}'
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"rule": "  "},
            [(f"{SPEC_PATH}.rule", "FieldValueRequired", "Required value: rule is not specified")],
        ),
        (
            {"rule": "true", "message": "  "},
            [
                (
                    f"{SPEC_PATH}.message",
                    "FieldValueInvalid",
                    'Invalid value: "  ": message must be non-empty if specified',
                )
            ],
        ),
        (
            {"rule": "true", "message": "one\ntwo"},
            [
                (
                    f"{SPEC_PATH}.message",
                    "FieldValueInvalid",
                    'Invalid value: "one\\ntwo": message must not contain line breaks',
                )
            ],
        ),
        (
            {"rule": "true &&\ntrue"},
            [
                (
                    f"{SPEC_PATH}.message",
                    "FieldValueRequired",
                    "Required value: message must be specified if rule contains line breaks",
                )
            ],
        ),
        (
            {"rule": "true", "messageExpression": " "},
            [
                (
                    f"{SPEC_PATH}.messageExpression",
                    "FieldValueRequired",
                    "Required value: messageExpression must be non-empty if specified",
                )
            ],
        ),
        (
            {"rule": "true", "reason": "FieldValueTooLong"},
            [
                (
                    f"{SPEC_PATH}.reason",
                    "FieldValueNotSupported",
                    'Unsupported value: "FieldValueTooLong": supported '
                    'values: "FieldValueDuplicate", '
                    '"FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"',
                )
            ],
        ),
        (
            {"rule": "true", "fieldPath": ".nope"},
            [
                (
                    f"{SPEC_PATH}.fieldPath",
                    "FieldValueInvalid",
                    'Invalid value: ".nope": fieldPath must be a valid path',
                )
            ],
        ),
    ],
)
def test_entry_fields_are_checked(entry, expected):
    assert causes_of(spec_with(entry)) == expected


def test_valid_field_paths_are_accepted():
    schema = spec_with(
        {"rule": "true", "fieldPath": ".labels['app.kubernetes.io/name']"},
        labels={"type": "object", "additionalProperties": {"type": "string"}},
    )
    assert causes_of(schema) == []


def test_syntax_error_reads_like_cel_go():
    rule = "self.replicas < "
    [(field, reason, message)] = causes_of(spec_with({"rule": rule}))
    assert (field, reason) == (f"{SPEC_PATH}.rule", "FieldValueInvalid")
    assert message == (
        f"Invalid value: {go_rule(rule)}: compilation failed: ERROR: <input>:1:17: Syntax error: "
        "mismatched input '<EOF>' expecting {'[', '{', '(', "
        "'.', '-', '!', 'true', 'false', 'null', "
        "NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n"
        " | self.replicas < \n"
        " | ................^"
    )


def test_undefined_field_is_refused_with_its_column():
    rule = "self.minReplicas <= self.replicas"
    [(_, _, message)] = causes_of(spec_with({"rule": rule, "reason": "FieldValueForbidden"}))
    assert message == (
        f"Invalid value: {go_rule(rule, reason='0xc000a1b2c0')}: compilation failed: "
        "ERROR: <input>:1:5: undefined field 'minReplicas'\n"
        " | self.minReplicas <= self.replicas\n"
        " | ....^"
    )


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (
            "self.replicas.isSortd()",
            "ERROR: <input>:1:22: undeclared reference to 'isSortd' (in container '')",
        ),
        (
            "replicas > 1",
            "ERROR: <input>:1:1: undeclared reference to 'replicas' (in container '')",
        ),
        (
            "self.replicas.value > 1",
            "ERROR: <input>:1:14: type 'int' does not support field selection",
        ),
        (
            "url('x').getHost() == ''",
            "ERROR: <input>:1:1: undeclared reference to 'url' (in container '')",
        ),
    ],
)
def test_what_the_checker_would_refuse(rule, problem):
    [(_, _, message)] = causes_of(spec_with({"rule": rule}))
    assert message.split("compilation failed: ")[1].splitlines()[0] == problem


@pytest.mark.parametrize(
    "rule",
    [
        "self.all(k, k.startsWith('a'))",
        "has(self.replicas) && self.replicas >= 0",
        "self.maxReplicas == 0 || self.replicas % self.maxReplicas == 0",
        "math.greatest(self.replicas, 1) > 0 && [1, 2].map(x, x * 2).sum() == 6",
        "type(self.replicas) == int && string(self.replicas) != ''",
        "self.exists_one(e, e == 'replicas')",
    ],
)
def test_valid_rules_compile(rule):
    assert causes_of(spec_with({"rule": rule})) == []


def test_message_expression_syntax_error_is_reported_on_its_own_field():
    entry = {"rule": "true", "messageExpression": "'x' +"}
    [(field, _, message)] = causes_of(spec_with(entry))
    assert field == f"{SPEC_PATH}.messageExpression"
    assert message.startswith(
        f"Invalid value: {go_rule('true', message_expression=chr(39) + 'x' + chr(39) + ' +')}: "
        "messageExpression compilation failed: ERROR: <input>:1:6: Syntax error:"
    )


def test_old_self_under_atomic_list_items_is_forbidden():
    items = {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}
    schema = spec_with({"rule": "true"}, tags={"type": "array", "items": items})
    list_path = f"{FIELD}.properties[spec].properties[tags]"
    assert causes_of(schema) == [
        (
            f"{list_path}.items.x-kubernetes-validations[0].rule",
            "FieldValueInvalid",
            'Invalid value: "self == oldSelf": oldSelf cannot be '
            "used on the uncorrelatable portion "
            f"of the schema within {list_path}",
        )
    ]


def test_old_self_under_set_list_items_is_forbidden_at_the_outermost_list():
    inner = {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"]}
    inner["items"] = {
        "type": "object",
        "required": ["k"],
        "properties": {"k": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "self.k == oldSelf.k"}],
    }
    outer = {"type": "array", "x-kubernetes-list-type": "atomic", "items": inner}
    [(_, _, message)] = causes_of(spec_with({"rule": "true"}, outer=outer))
    assert message.endswith(f"within {FIELD}.properties[spec].properties[outer]")


def test_old_self_under_list_map_items_and_maps_is_allowed():
    item = {
        "type": "object",
        "required": ["k"],
        "properties": {"k": {"type": "string"}, "v": INT},
        "x-kubernetes-validations": [{"rule": "self.v >= oldSelf.v"}],
    }
    entries = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["k"],
        "items": item,
    }
    atomic_map = {
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "additionalProperties": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf"}],
        },
    }
    assert causes_of(spec_with({"rule": "true"}, entries=entries, labels=atomic_map)) == []


def test_optional_old_self_without_old_self_is_refused():
    entry = {"rule": "self.replicas > 0", "optionalOldSelf": True}
    assert causes_of(spec_with(entry)) == [
        (
            f"{SPEC_PATH}.optionalOldSelf",
            "FieldValueInvalid",
            "Invalid value: true: may not be set if oldSelf is not used in rule",
        )
    ]


def test_field_errors_below_a_node_skip_compiling_its_rules():
    schema = spec_with(
        {"rule": "self.nope"},
        child={**INT, "x-kubernetes-validations": [{"rule": "true", "message": " "}]},
    )
    assert [field for field, _, _ in causes_of(schema)] == [
        f"{FIELD}.properties[spec].properties[child].x-kubernetes-validations[0].message"
    ]

"""CEL rules on custom resources: what a write gets back, in Kubernetes v1.31's words."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.openapi.cel import CompiledRules, compile_rules
from orchestrator.api.validation_causes import Cause

FIELD = "spec.versions[0].schema.openAPIV3Schema"
INT = {"type": "integer"}
STR = {"type": "string"}


def crd_schema(spec: dict[str, Any], **root: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": spec}, **root}


def rules_for(schema: dict[str, Any]) -> CompiledRules:
    rules, causes = compile_rules(schema, FIELD)
    assert causes == []
    return rules


def on_spec(*entries: dict[str, Any], **properties: Any) -> CompiledRules:
    spec = {"type": "object", "properties": properties, "x-kubernetes-validations": list(entries)}
    return rules_for(crd_schema(spec))


def messages(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_schema_without_rules_compiles_to_the_falsy_empty_value():
    rules = rules_for(crd_schema({"type": "object", "properties": {"a": INT}}))
    assert not rules
    assert not CompiledRules.empty
    assert rules.evaluate({"spec": {"a": 1}}, None) == []


SCALING = {"replicas": INT, "minReplicas": INT, "maxReplicas": INT}


@pytest.mark.parametrize(
    ("entry", "spec", "expected"),
    [
        ({"rule": "self.replicas <= self.maxReplicas"}, {"replicas": 3, "maxReplicas": 5}, []),
        (
            {"rule": "self.replicas <= self.maxReplicas"},
            {"replicas": 7, "maxReplicas": 5},
            ['spec: Invalid value: "object": failed rule: self.replicas <= self.maxReplicas'],
        ),
        (
            {"rule": "self.minReplicas <= self.replicas", "message": "  below minimum  "},
            {"replicas": 1, "minReplicas": 2},
            ['spec: Invalid value: "object": below minimum'],
        ),
        (
            {
                "rule": "self.replicas <= self.maxReplicas",
                "messageExpression": "'replicas ' + string(self.replicas) + ' above ' + "
                "string(self.maxReplicas)",
            },
            {"replicas": 7, "maxReplicas": 5},
            ['spec: Invalid value: "object": replicas 7 above 5'],
        ),
        (
            {"rule": "self.replicas <= self.maxReplicas", "reason": "FieldValueForbidden"},
            {"replicas": 7, "maxReplicas": 5},
            ["spec: Forbidden: failed rule: self.replicas <= self.maxReplicas"],
        ),
        (
            {"rule": "has(self.replicas)", "reason": "FieldValueRequired", "message": "set it"},
            {},
            ["spec: Required value: set it"],
        ),
        (
            {"rule": "false", "reason": "FieldValueDuplicate", "message": "twice"},
            {},
            ['spec: Duplicate value: "object"'],
        ),
        (
            {"rule": "self.replicas <= self.maxReplicas", "fieldPath": ".replicas"},
            {"replicas": 7, "maxReplicas": 5},
            [
                'spec.replicas: Invalid value: "object": failed rule: '
                "self.replicas <= self.maxReplicas"
            ],
        ),
        (
            {"rule": "self.maxReplicas > 0"},
            {"replicas": 1},
            [
                'spec: Invalid value: "object": no such key: maxReplicas '
                "evaluating rule: self.maxReplicas > 0"
            ],
        ),
    ],
)
def test_rule_at_an_object_node(entry, spec, expected):
    rules = on_spec(entry, **SCALING)
    assert messages(rules.evaluate({"spec": spec}, None)) == expected


def test_failure_reason_becomes_the_cause_reason():
    rules = on_spec({"rule": "false", "reason": "FieldValueForbidden"})
    [cause] = rules.evaluate({"spec": {}}, None)
    assert (cause.field, cause.reason) == ("spec", "FieldValueForbidden")


def test_scalar_rule_reports_the_schema_type_as_kubernetes_1_31_does():
    rules = rules_for(
        crd_schema(
            {
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "x-kubernetes-validations": [{"rule": "self.startsWith('a')"}],
                    },
                    "count": {
                        "type": "integer",
                        "x-kubernetes-validations": [{"rule": "self < 10"}],
                    },
                },
            }
        )
    )
    causes = rules.evaluate({"spec": {"name": "bob", "count": 12}}, None)
    assert sorted(messages(causes)) == [
        'spec.count: Invalid value: "integer": failed rule: self < 10',
        "spec.name: Invalid value: \"string\": failed rule: self.startsWith('a')",
    ]


def test_root_rule_reports_nil_field_and_sees_only_name_of_metadata():
    schema = crd_schema(
        {"type": "object", "properties": {"size": INT}},
        **{
            "x-kubernetes-validations": [
                {"rule": "self.metadata.name.startsWith('web-') && self.kind == 'Thing'"},
                {"rule": "!has(self.metadata.labels)"},
            ]
        },
    )
    _, causes = compile_rules(schema, FIELD)
    # metadata.labels is not part of the root's CEL type: refused when the CRD is written
    assert [c.message.split("compilation failed: ")[1].splitlines()[0] for c in causes] == [
        "ERROR: <input>:1:19: undefined field 'labels'"
    ]
    schema["x-kubernetes-validations"].pop()
    rules = rules_for(schema)
    obj = {"apiVersion": "x/v1", "kind": "Thing", "metadata": {"name": "db-1"}, "spec": {}}
    assert messages(rules.evaluate(obj, None)) == [
        '<nil>: Invalid value: "object": failed rule: '
        "self.metadata.name.startsWith('web-') && self.kind == 'Thing'"
    ]
    obj["metadata"]["name"] = "web-1"
    assert rules.evaluate(obj, None) == []


def test_rule_on_items_runs_for_each_element_with_its_index():
    items = {
        "type": "string",
        "x-kubernetes-validations": [{"rule": "self.size() < 4", "message": "long"}],
    }
    rules = on_spec(hosts={"type": "array", "items": items})
    causes = rules.evaluate({"spec": {"hosts": ["a", "abcdef", "b", "wxyz"]}}, None)
    assert messages(causes) == [
        'spec.hosts[1]: Invalid value: "string": long',
        'spec.hosts[3]: Invalid value: "string": long',
    ]


def test_rule_on_additional_properties_runs_for_each_value_with_its_key():
    values = {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= 0"}]}
    rules = on_spec(limits={"type": "object", "additionalProperties": values})
    causes = rules.evaluate({"spec": {"limits": {"cpu": 1, "mem": -1}}}, None)
    assert messages(causes) == [
        'spec.limits[mem]: Invalid value: "integer": failed rule: self >= 0'
    ]


@pytest.mark.parametrize(
    ("rule", "value", "ok"),
    [
        ("self.all(x, x.size() < 10)", ["a", "bb"], True),
        ("self.all(x, x.size() < 10)", ["a", "0123456789"], False),
        ("self.exists(x, x == 'b')", ["a", "b"], True),
        ("self.exists_one(x, x == 'a')", ["a", "a"], False),
        ("self.map(x, x + '!').all(x, x.endsWith('!'))", ["a"], True),
        ("self.filter(x, x.startsWith('a')).size() == 1", ["ab", "b"], True),
        ("self.isSorted()", ["a", "b", "c"], True),
        ("self.isSorted()", ["b", "a"], False),
        ("self.all(x, x.matches('^[a-z]+$'))", ["ab", "c"], True),
        ("self.all(x, x.matches('^[a-z]+$'))", ["ab", "C"], False),
        ("self.indexOf('b') == 1", ["a", "b"], True),
        ("self.join(',').lowerAscii() == 'a,b'", ["A", "B"], True),
        ("self.size() == 0 || self[0].split('-').size() == 2", ["a-b"], True),
    ],
)
def test_list_rules_with_macros_and_kubernetes_functions(rule, value, ok):
    rules = on_spec(l={"type": "array", "items": STR, "x-kubernetes-validations": [{"rule": rule}]})
    assert (rules.evaluate({"spec": {"l": value}}, None) == []) is ok


@pytest.mark.parametrize(
    ("rule", "ok"),
    [
        ("quantity(self.memory).isLessThan(quantity('1Gi'))", True),
        ("quantity(self.memory).compareTo(quantity('100Mi')) == 0", True),
        ("quantity(self.memory) == quantity('102400Ki')", True),
        ("isQuantity(self.memory) && !isQuantity('1 Gi')", True),
        ("quantity(self.memory).isGreaterThan(quantity('1Gi'))", False),
    ],
)
def test_quantity_library(rule, ok):
    rules = on_spec({"rule": rule}, memory=STR)
    assert (rules.evaluate({"spec": {"memory": "100Mi"}}, None) == []) is ok


def test_number_fields_are_doubles_and_formats_are_typed():
    rules = on_spec(
        {"rule": "self.ratio > 0.5"},
        {"rule": "self.at > timestamp('2024-01-01T00:00:00Z')"},
        {"rule": "self.every < duration('2h')"},
        ratio={"type": "number"},
        at={"type": "string", "format": "date-time"},
        every={"type": "string", "format": "duration"},
    )
    spec = {"ratio": 1, "at": "2025-03-01T10:00:00Z", "every": "1h30m"}
    assert rules.evaluate({"spec": spec}, None) == []


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("foo-bar", "foo__dash__bar"),
        ("foo.bar", "foo__dot__bar"),
        ("a/b", "a__slash__b"),
        ("a__b", "a__underscores__b"),
        ("namespace", "__namespace__"),
        ("if", "__if__"),
    ],
)
def test_property_names_are_escaped(name, escaped):
    rules = on_spec({"rule": f"self.{escaped} == 1"}, **{name: INT})
    assert rules.evaluate({"spec": {name: 1}}, None) == []
    assert len(rules.evaluate({"spec": {name: 2}}, None)) == 1


def test_unknown_fields_under_preserve_unknown_fields_are_invisible():
    spec = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"known": INT},
        "x-kubernetes-validations": [{"rule": "!has(self.known) || self.known > 0"}],
    }
    rules = rules_for(crd_schema(spec))
    assert rules.evaluate({"spec": {"known": 1, "extra": {"deep": True}}}, None) == []
    bad = {**spec, "x-kubernetes-validations": [{"rule": "has(self.extra)"}]}
    _, causes = compile_rules(crd_schema(bad), FIELD)
    assert "undefined field 'extra'" in causes[0].message


def test_null_values_are_not_validated():
    rules = rules_for(
        crd_schema(
            {
                "type": "object",
                "properties": {
                    "n": {
                        "type": "integer",
                        "nullable": True,
                        "x-kubernetes-validations": [{"rule": "self > 0"}],
                    }
                },
            }
        )
    )
    assert rules.evaluate({"spec": {"n": None}}, None) == []


TRANSITION = {"rule": "self == oldSelf", "message": "immutable"}


def test_transition_rule_is_skipped_on_create():
    rules = rules_for(
        crd_schema(
            {
                "type": "object",
                "properties": {"mode": {**STR, "x-kubernetes-validations": [TRANSITION]}},
            }
        )
    )
    assert rules.evaluate({"spec": {"mode": "a"}}, None) == []


def test_transition_rule_compares_with_the_old_value_on_update():
    rules = rules_for(
        crd_schema(
            {
                "type": "object",
                "properties": {"mode": {**STR, "x-kubernetes-validations": [TRANSITION]}},
            }
        )
    )
    old = {"spec": {"mode": "a"}}
    assert rules.evaluate({"spec": {"mode": "a"}}, old) == []
    assert messages(rules.evaluate({"spec": {"mode": "b"}}, old)) == [
        'spec.mode: Invalid value: "string": immutable'
    ]


def test_transition_rule_is_skipped_when_the_old_object_lacked_the_field():
    rules = rules_for(
        crd_schema(
            {
                "type": "object",
                "properties": {"mode": {**STR, "x-kubernetes-validations": [TRANSITION]}},
            }
        )
    )
    assert rules.evaluate({"spec": {"mode": "b"}}, {"spec": {}}) == []


def test_optional_old_self_runs_on_create_with_an_empty_optional():
    entry = {
        "rule": "!oldSelf.hasValue() || oldSelf.value() <= self",
        "optionalOldSelf": True,
        "message": "may only grow",
    }
    rules = rules_for(
        crd_schema(
            {"type": "object", "properties": {"size": {**INT, "x-kubernetes-validations": [entry]}}}
        )
    )
    assert rules.evaluate({"spec": {"size": 1}}, None) == []
    assert messages(rules.evaluate({"spec": {"size": 1}}, {"spec": {"size": 2}})) == [
        'spec.size: Invalid value: "integer": may only grow'
    ]


def test_transition_rule_in_a_list_map_correlates_items_by_key():
    item = {
        "type": "object",
        "properties": {"name": STR, "port": INT},
        "x-kubernetes-validations": [
            {"rule": "self.port == oldSelf.port", "message": "port is immutable"}
        ],
    }
    ports = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": item,
    }
    rules = on_spec(ports=ports)
    old = {"spec": {"ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": 90}]}}
    new = {
        "spec": {
            "ports": [
                {"name": "grpc", "port": 91},
                {"name": "http", "port": 80},
                {"name": "new", "port": 1},
            ]
        }
    }
    assert messages(rules.evaluate(new, old)) == [
        'spec.ports[0]: Invalid value: "object": port is immutable'
    ]


def test_ratcheting_turns_errors_on_unchanged_values_into_warnings():
    rules = on_spec(
        **{"name": {**STR, "x-kubernetes-validations": [{"rule": "self.size() < 3"}]}, "n": INT}
    )
    old = {"spec": {"name": "long", "n": 1}}
    warnings: list[str] = []
    assert rules.evaluate({"spec": {"name": "long", "n": 2}}, old, warnings) == []
    assert warnings == ['spec.name: Invalid value: "string": failed rule: self.size() < 3']
    assert len(rules.evaluate({"spec": {"name": "longer", "n": 2}}, old)) == 1


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'  spaced  '", "spaced"),
        ("''", "failed rule: false"),  # empty: falls back
        ("'two\\nlines'", "failed rule: false"),
        ("string(1/0)", "failed rule: false"),  # evaluation error: falls back
    ],
)
def test_message_expression_results(expression, expected):
    rules = on_spec({"rule": "false", "messageExpression": expression})
    assert messages(rules.evaluate({"spec": {}}, None)) == [
        f'spec: Invalid value: "object": {expected}'
    ]


def test_message_expression_falls_back_to_message():
    rules = on_spec({"rule": "false", "message": "plain", "messageExpression": "''"})
    assert messages(rules.evaluate({"spec": {}}, None)) == ['spec: Invalid value: "object": plain']


def test_runtime_error_names_the_rule_message():
    rules = on_spec({"rule": "self.a / self.b > 0", "message": "ratio"}, a=INT, b=INT)
    assert messages(rules.evaluate({"spec": {"a": 1, "b": 0}}, None)) == [
        'spec: Invalid value: "object": division by zero evaluating rule: ratio'
    ]


def test_quadratic_rule_over_a_large_list_runs_out_of_call_budget():
    rule = "self.all(x, self.all(y, x == y || x != y))"
    rules = on_spec(l={"type": "array", "items": INT, "x-kubernetes-validations": [{"rule": rule}]})
    assert rules.evaluate({"spec": {"l": list(range(50))}}, None) == []
    causes = rules.evaluate({"spec": {"l": list(range(3000))}}, None)
    assert messages(causes) == [
        'spec.l: Invalid value: "array": \'operation cancelled: '
        "actual cost limit exceeded': no further "
        f"validation rules will be run due to call cost exceeds limit for rule: {rule}"
    ]


def test_object_budget_stops_all_further_rules():
    values = {
        "type": "array",
        "items": INT,
        "x-kubernetes-validations": [{"rule": "self.all(x, x >= 0)"}],
    }
    rules = on_spec(m={"type": "object", "additionalProperties": values})
    big = {f"k{i}": list(range(20_000)) for i in range(60)}
    causes = rules.evaluate({"spec": {"m": big}}, None)
    assert messages(causes)[-1].endswith(
        "validation failed due to running out of cost budget, no "
        "further validation rules will be run"
    )
    assert len(causes) == 1


def test_message_expression_reads_fields_the_rule_does_not():
    rules = on_spec(
        {"rule": "self.replicas <= 5", "messageExpression": "self.name + ' wants too many'"},
        replicas=INT,
        name=STR,
    )
    causes = rules.evaluate({"spec": {"replicas": 9, "name": "web"}}, None)
    assert messages(causes) == ['spec: Invalid value: "object": web wants too many']


def test_a_field_only_tested_by_has_still_answers_has_and_counts_for_the_budget():
    handlers = "[has(self.a), has(self.b)].filter(x, x).size() <= 1"
    big = {"type": "array", "items": INT}
    rules = on_spec({"rule": handlers, "message": "one handler"}, a=big, b=big)
    assert rules.evaluate({"spec": {"a": [1]}}, None) == []
    assert messages(rules.evaluate({"spec": {"a": [1], "b": [2]}}, None)) == [
        'spec: Invalid value: "object": one handler'
    ]
    # the value is left out of what the library sees, but not out of the cost estimate
    rule = "has(self.a) && self.b.all(x, self.b.all(y, x == y || x != y))"
    rules = on_spec({"rule": rule}, a=big, b=big)
    assert rules.evaluate({"spec": {"a": list(range(1000)), "b": [1]}}, None) != []


def test_a_field_read_beyond_has_by_the_message_expression_is_converted():
    rules = on_spec(
        {"rule": "!has(self.name)", "messageExpression": "self.name + ' is set'"}, name=STR
    )
    assert messages(rules.evaluate({"spec": {"name": "web"}}, None)) == [
        'spec: Invalid value: "object": web is set'
    ]

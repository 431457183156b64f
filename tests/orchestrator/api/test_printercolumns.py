"""The Table of a custom resource from its CRD's additionalPrinterColumns, and their validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.api.printercolumns import check_columns, custom_table, go_float, print_value

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
FIELD = "spec.versions[0].additionalPrinterColumns"

COLUMNS = [
    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "description": "Pods."},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "priority": 1,
    },
    {
        "name": "Age",
        "type": "date",
        "format": "date-time",
        "jsonPath": ".metadata.creationTimestamp",
    },
]


def crontab(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {
            "name": name,
            "namespace": "default",
            "resourceVersion": "811",
            "creationTimestamp": "2024-01-01T11:55:00Z",
        },
        **fields,
    }


def cells(columns: list[dict[str, Any]], obj: dict[str, Any]) -> list[Any]:
    table = custom_table(columns, [obj], now=NOW, include_object="None", resource_version="1")
    row: list[Any] = table["rows"][0]["cells"]
    return row


def column(column_type: str, path: str) -> list[dict[str, Any]]:
    return [{"name": "X", "type": column_type, "jsonPath": path}]


def test_declared_columns_follow_name_with_their_definitions() -> None:
    obj = crontab(
        "c1",
        spec={"cronSpec": "*/5 * * * *", "replicas": 3},
        status={"conditions": [{"type": "Ready", "status": "True"}]},
    )
    table = custom_table(COLUMNS, [obj], now=NOW, include_object="Metadata", resource_version="812")
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "812"}
    definitions = table["columnDefinitions"]
    assert [(d["name"], d["type"], d["format"], d["priority"]) for d in definitions] == [
        ("Name", "string", "name", 0),
        ("Spec", "string", "", 0),
        ("Replicas", "integer", "", 0),
        ("Ready", "string", "", 1),
        ("Age", "date", "date-time", 0),
    ]
    assert definitions[2]["description"] == "Pods."
    assert definitions[1]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.cronSpec"
    )
    assert table["rows"] == [
        {
            "cells": ["c1", "*/5 * * * *", 3, "True", "5m"],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            },
        }
    ]


def test_no_declared_columns_print_name_and_a_date_typed_age() -> None:
    table = custom_table([], [crontab("c1")], now=NOW, include_object="None", resource_version="")
    assert [(d["name"], d["type"]) for d in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert table["rows"] == [{"cells": ["c1", "5m"]}]


def test_declared_columns_get_no_automatic_age() -> None:
    table = custom_table(
        column("integer", ".spec.replicas"),
        [crontab("c1")],
        now=NOW,
        include_object="None",
        resource_version="",
    )
    assert [d["name"] for d in table["columnDefinitions"]] == ["Name", "X"]


def test_include_object_modes_and_continue_token() -> None:
    obj = crontab("c1")
    full = custom_table(
        [], [obj], now=NOW, include_object="Object", resource_version="9", continue_token="abc"
    )
    assert full["rows"][0]["object"] == obj
    assert full["metadata"] == {"resourceVersion": "9", "continue": "abc"}
    with pytest.raises(ValueError):
        custom_table([], [obj], now=NOW, include_object="Everything", resource_version="9")


@pytest.mark.parametrize(
    ("column_type", "value", "expected"),
    [
        ("string", "text", "text"),
        ("string", 3, "3"),
        ("string", 2.5, "2.5"),
        ("string", 3.0, "3"),
        ("string", 1e6, "1e+06"),
        ("string", True, "true"),
        ("string", None, "<no value>"),
        ("string", ["a", "b"], '["a","b"]'),
        ("string", {"b": 1, "a": "<x>"}, '{"a":"\\u003cx\\u003e","b":1}'),
        ("integer", 7, 7),
        ("integer", 7.9, 7),
        ("integer", -7.9, -7),
        ("integer", "7", None),
        ("integer", True, None),
        ("number", 2, 2.0),
        ("number", 2.5, 2.5),
        ("number", "2.5", None),
        ("boolean", False, False),
        ("boolean", "true", None),
        ("date", "2024-01-01T11:55:00Z", "5m"),
        ("date", "2024-01-01T13:55:00+02:00", "5m"),
        ("date", "2024-01-01T11:59:30.123456789Z", "29s"),
        ("date", "2024-01-01T12:00:05Z", "<invalid>"),  # in the future
        ("date", "yesterday", "<invalid>"),
        ("date", "2024-01-01", "<invalid>"),
        ("date", "", "<unknown>"),
        ("date", 5, None),
        ("integer", None, None),
    ],
)
def test_cells_are_typed_as_the_column_says(column_type: str, value: Any, expected: Any) -> None:
    row = cells(column(column_type, ".spec.value"), crontab("c1", spec={"value": value}))
    assert row == ["c1", expected]
    assert type(row[1]) is type(expected)


@pytest.mark.parametrize(
    "path",
    [".spec.missing", ".spec.list[5]", '.status.conditions[?(@.type=="Gone")].status'],
)
def test_nothing_selected_is_a_null_cell(path: str) -> None:
    obj = crontab("c1", spec={"list": [1]}, status={"conditions": [{"type": "Ready"}]})
    assert cells(column("string", path), obj) == ["c1", None]


def test_a_path_selecting_several_values_prints_the_first() -> None:
    obj = crontab("c1", spec={"containers": [{"name": "a"}, {"name": "b"}]})
    assert cells(column("string", ".spec.containers[*].name"), obj) == ["c1", "a"]
    assert cells(column("string", ".spec.containers"), obj) == [
        "c1",
        '[{"name":"a"},{"name":"b"}]',
    ]


def test_columns_end_at_one_whose_path_does_not_compile() -> None:
    columns = [*column("string", ".spec.a"), {"name": "Bad", "type": "string", "jsonPath": ".["}]
    table = custom_table(
        columns, [crontab("c1")], now=NOW, include_object="None", resource_version=""
    )
    assert [d["name"] for d in table["columnDefinitions"]] == ["Name", "X"]
    assert table["rows"][0]["cells"] == ["c1", None]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (100000.0, "100000"),
        (1234567.0, "1.234567e+06"),
        (1e-05, "1e-05"),
        (0.0001, "0.0001"),
    ],
)
def test_floats_print_as_go_prints_them(value: float, text: str) -> None:
    assert go_float(value) == text
    assert print_value(value) == text


def test_valid_columns_have_no_causes() -> None:
    assert check_columns(COLUMNS, FIELD) == []
    assert check_columns(None, FIELD) == []


def test_bad_columns_are_refused_with_kubernetes_texts() -> None:
    columns = [
        {"type": "money", "format": "euro", "jsonPath": "spec.x", "priority": -1},
        {"name": "B", "jsonPath": ".spec.items["},
        {"name": "C", "type": "string"},
    ]
    messages = [(c.field, c.message) for c in check_columns(columns, FIELD)]
    assert messages == [
        (f"{FIELD}[0].name", "Required value"),
        (
            f"{FIELD}[0].type",
            'Invalid value: "money": must be one of boolean,date,integer,number,string',
        ),
        (
            f"{FIELD}[0].format",
            'Invalid value: "euro": must be one of '
            "byte,date,date-time,double,float,int32,int64,password",
        ),
        (
            f"{FIELD}[0].JSONPath",
            'Invalid value: "spec.x": must be a simple json path starting with .',
        ),
        (f"{FIELD}[0].priority", "Invalid value: -1: must be greater than or equal to 0"),
        (f"{FIELD}[1].type", "Required value: must be one of boolean,date,integer,number,string"),
        (
            f"{FIELD}[1].JSONPath",
            'Invalid value: ".spec.items[": is not a valid JSONPath: unterminated array',
        ),
        (f"{FIELD}[2].JSONPath", "Required value"),
    ]


def test_columns_that_are_not_a_list_of_objects_are_refused() -> None:
    assert [c.field for c in check_columns({"name": "x"}, FIELD)] == [FIELD]
    assert [c.field for c in check_columns(["x"], FIELD)] == [f"{FIELD}[0]"]

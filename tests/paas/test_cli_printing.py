"""Printing the server's Tables: column choice, extra columns, alignment."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from paas.cli.printing import (
    TableView,
    cell_text,
    format_lines,
    object_name,
    pad_row,
    table_header,
    table_rows,
    to_yaml,
)

TABLE: dict[str, Any] = {
    "kind": "Table",
    "columnDefinitions": [
        {"name": "Name", "type": "string", "format": "name", "priority": 0},
        {"name": "Ready", "type": "string", "format": "", "priority": 0},
        {"name": "Age", "type": "string", "format": "", "priority": 0},
        {"name": "Images", "type": "string", "format": "", "priority": 1},
    ],
    "rows": [
        {
            "cells": ["web", "1/1", "5m", "nginx"],
            "object": {
                "metadata": {
                    "name": "web",
                    "namespace": "default",
                    "labels": {"tier": "front", "app": "web"},
                }
            },
        },
        {
            "cells": ["database", "0/1", "12s", None],
            "object": {"metadata": {"name": "database", "namespace": "prod"}},
        },
    ],
}


@pytest.mark.parametrize(
    ("view", "header", "first"),
    [
        (TableView(), ["NAME", "READY", "AGE"], ["web", "1/1", "5m"]),
        (TableView(wide=True), ["NAME", "READY", "AGE", "IMAGES"], ["web", "1/1", "5m", "nginx"]),
        (
            TableView(namespace_column=True),
            ["NAMESPACE", "NAME", "READY", "AGE"],
            ["default", "web", "1/1", "5m"],
        ),
        (
            TableView(show_labels=True),
            ["NAME", "READY", "AGE", "LABELS"],
            ["web", "1/1", "5m", "app=web,tier=front"],
        ),
        (
            TableView(name_prefix="deployment.apps/"),
            ["NAME", "READY", "AGE"],
            ["deployment.apps/web", "1/1", "5m"],
        ),
    ],
)
def test_table_columns(view: TableView, header: list[str], first: list[str]) -> None:
    assert table_header(TABLE, view) == header
    assert table_rows(TABLE, view)[0] == first


def test_missing_cells_and_labels_print_none() -> None:
    rows = table_rows(TABLE, TableView(wide=True, show_labels=True))
    assert rows[1] == ["database", "0/1", "12s", "<none>", "<none>"]


def test_format_lines_pads_all_but_the_last_column_by_three() -> None:
    lines = format_lines(
        [["NAME", "READY", "AGE"], ["web", "1/1", "5m"], ["database", "0/1", "12s"]]
    )
    assert lines == [
        "NAME       READY   AGE",
        "web        1/1     5m",
        "database   0/1     12s",
    ]


def test_pad_row_with_fixed_widths_for_watch_rows() -> None:
    assert pad_row(["a", "b", "c"], [4, 5]) == "a      b       c"
    assert pad_row(["longer-than-width", "b"], [4]) == "longer-than-width   b"


@pytest.mark.parametrize(
    ("value", "text"), [(None, "<none>"), (True, "true"), (3, "3"), (["a", "b"], "a,b")]
)
def test_cell_text(value: Any, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("obj", "name"),
    [
        (
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
            "deployment.apps/web",
        ),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}, "configmap/cfg"),
    ],
)
def test_object_name(obj: dict[str, Any], name: str) -> None:
    assert object_name(obj) == name


def test_yaml_keeps_multiline_strings_readable_and_round_trips() -> None:
    obj = {"data": {"script": "line one\nline two\n", "n": "1"}}
    text = to_yaml(obj)
    assert "script: |" in text
    assert yaml.safe_load(text) == obj

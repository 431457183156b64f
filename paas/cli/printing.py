"""Printing what the server sent: its Tables as aligned columns, objects as YAML or JSON.

The server decides the columns (``meta.k8s.io/v1`` Table, as kubectl asks):
``priority`` 0 columns are shown by default, the others with ``-o wide``. The
client adds only what kubectl adds from ``rows[].object.metadata``: a leading
NAMESPACE column for ``-A``, a trailing LABELS column for ``--show-labels``,
and a ``kind/`` prefix on the name column when several kinds are printed.

Alignment follows Go's tabwriter as kubectl configures it: every column but
the last padded to its widest cell plus three spaces. ``-w`` prints rows one
at a time, so it pads them to the widths of the first table it printed
(``pad_row``); a later, wider cell simply pushes the line out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from orchestrator.api.objects import Obj, metadata_of

GAP = 3


@dataclass(frozen=True)
class TableView:
    """How to turn a server Table into text lines."""

    wide: bool = False
    namespace_column: bool = False
    show_labels: bool = False
    name_prefix: str = ""  # "deployment.apps/" when several kinds share the output


def cell_text(value: Any) -> str:
    """One cell as kubectl prints it."""
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(cell_text(v) for v in value)
    return str(value)


def labels_text(labels: dict[str, Any] | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def shown_columns(table: Obj, wide: bool) -> list[int]:
    """Indexes of the columns to print."""
    return [
        i
        for i, c in enumerate(table.get("columnDefinitions") or [])
        if wide or int(c.get("priority") or 0) == 0
    ]


def table_header(table: Obj, view: TableView) -> list[str]:
    columns = table.get("columnDefinitions") or []
    header = [str(columns[i].get("name", "")).upper() for i in shown_columns(table, view.wide)]
    if view.namespace_column:
        header.insert(0, "NAMESPACE")
    if view.show_labels:
        header.append("LABELS")
    return header


def table_rows(table: Obj, view: TableView) -> list[list[str]]:
    """The cells to print for every row of a Table, in order."""
    columns = table.get("columnDefinitions") or []
    shown = shown_columns(table, view.wide)
    out = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        meta = metadata_of(row.get("object") or {})
        line = []
        for i in shown:
            text = cell_text(cells[i]) if i < len(cells) else ""
            if view.name_prefix and columns[i].get("format") == "name":
                text = view.name_prefix + text
            line.append(text)
        if view.namespace_column:
            line.insert(0, str(meta.get("namespace", "")))
        if view.show_labels:
            line.append(labels_text(meta.get("labels")))
        out.append(line)
    return out


def column_widths(lines: list[list[str]]) -> list[int]:
    widths: list[int] = []
    for line in lines:
        for i, text in enumerate(line):
            if i >= len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(text))
    return widths


def pad_row(line: list[str], widths: list[int], gap: int = GAP) -> str:
    """One line, every cell but the last padded to its column's width plus the gap."""
    parts = []
    for i, text in enumerate(line):
        if i == len(line) - 1:
            parts.append(text)
        else:
            width = widths[i] if i < len(widths) else len(text)
            parts.append(text.ljust(max(width, len(text)) + gap))
    return "".join(parts).rstrip()


def format_lines(lines: list[list[str]], gap: int = GAP) -> list[str]:
    """Aligned text lines for a header and rows."""
    widths = column_widths(lines)
    return [pad_row(line, widths, gap) for line in lines]


class _Dumper(yaml.SafeDumper):
    """YAML like kubectl's: block style, multi-line strings as literals."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(obj: Any) -> str:
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4, ensure_ascii=False)


def as_list(items: list[Obj]) -> Obj:
    """Several objects as one document, the way kubectl re-wraps them."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def print_objects(objs: list[Obj], output: str, single: bool) -> None:
    if output == "name":
        for obj in objs:
            print(object_name(obj))
    elif output == "json":
        print(to_json(objs[0] if single and len(objs) == 1 else as_list(objs)))
    else:
        print(to_yaml(objs[0] if single and len(objs) == 1 else as_list(objs)), end="")


def object_name(obj: Obj) -> str:
    """``deployment.apps/web`` for an object."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind", "")).lower()
    prefix = f"{kind}.{group}" if group else kind
    return f"{prefix}/{obj.get('metadata', {}).get('name', '')}"

"""``kubectl get`` for custom resources: the Table from a CRD's additionalPrinterColumns.

A CRD version declares its columns (``name``, ``type``, ``format``,
``description``, ``priority``, ``jsonPath``); the API server renders every
object through them, as Kubernetes' CRD table convertor does
(apiextensions-apiserver ``tableconvertor.go``):

- the first column is always ``Name`` (format ``name``); a version that
  declares no columns gets one ``Age`` column of type ``date`` read from
  ``.metadata.creationTimestamp``, and one that declares columns gets no
  automatic ``Age``;
- a column's cell is the *first* value its JSONPath selects; nothing selected,
  or a path that fails (index out of range), gives ``None``;
- ``string`` cells are the value as client-go prints it: text as is, maps and
  lists as compact JSON (Go's encoder: sorted keys, ``<>&`` escaped), numbers
  as Go's ``%v`` (``3``, ``1.5``, ``1e+06``), JSON null as ``<no value>``;
  ``integer`` takes integers and truncates floats; ``number`` takes both as a
  float; ``boolean`` only booleans; ``date`` renders an RFC 3339 string as an
  age (``5m``), ``<invalid>`` when it does not parse, ``<unknown>`` when empty;
  any other mismatch is ``None``;
- a column whose path does not compile ends the column list there, as
  Kubernetes does (the CRD validation below refuses such paths anyway).

Rows, ``includeObject`` and the list metadata come from ``tables.build_table``
so custom and built-in kinds print alike. ``check_columns`` is the CRD
validation of the same fields, with Kubernetes' texts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from orchestrator.api.jsonpath import JSONPath, JSONPathError, compile_jsonpath
from orchestrator.api.tables import AGE, NAME, Column, ColumnSet, build_table, human_duration
from orchestrator.api.validation_causes import Cause, invalid, required

TYPES = ("boolean", "date", "integer", "number", "string")
FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
DEFAULT_COLUMNS: tuple[dict[str, Any], ...] = (
    {
        "name": "Age",
        "type": "date",
        "description": AGE.description,
        "jsonPath": ".metadata.creationTimestamp",
    },
)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_TABLE_KIND = "CustomResource"


# -- cells -----------------------------------------------------------------------


def _shortest(value: float) -> tuple[str, str, int]:
    """Sign, shortest round-tripping digits, and the decimal exponent of the first digit."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return ("-" if sign else ""), text, len(text) + exponent - 1


def _exponential(value: float) -> str:
    sign, digits, point = _shortest(value)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"


def _fixed(value: float) -> str:
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    return format(Decimal(repr(value)).normalize(), "f")


def go_float(value: float) -> str:
    """A float as Go's ``fmt.Print`` writes it (``3``, ``0.25``, ``1e+06``, ``1.5e-05``)."""
    if value == 0:
        return _fixed(value)
    point = _shortest(value)[2]
    return _exponential(value) if point < -4 or point >= 6 else _fixed(value)


def _go_json_float(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        return _fixed(value)
    return re.sub(r"e-0(\d)$", r"e-\1", _exponential(value))  # Go trims e-07 to e-7


def go_json(value: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it: sorted keys, ``<>&`` escaped."""
    if isinstance(value, dict):
        items = (f"{go_json(str(k))}:{go_json(v)}" for k, v in sorted(value.items()))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, escaped)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return json.dumps(value)


def print_value(value: Any) -> str:
    """One value as client-go's JSONPath printer writes it."""
    if isinstance(value, dict | list):
        return go_json(value)
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _age(value: str, now: datetime) -> str:
    if value in ("", "null"):
        return "<unknown>"
    if not _RFC3339.fullmatch(value):
        return "<invalid>"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return "<invalid>"
    return human_duration((now - moment).total_seconds())


def cell(column_type: str, value: Any, now: datetime) -> Any:
    """The cell for a value a column's path selected."""
    if column_type == "string":
        return print_value(value)
    if column_type == "integer" and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return int(value)
    if column_type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        return _age(value, now)
    return None


# -- the Table -------------------------------------------------------------------


def _compiled(columns: list[dict[str, Any]]) -> list[tuple[Column, JSONPath]]:
    compiled: list[tuple[Column, JSONPath]] = []
    for spec in columns or DEFAULT_COLUMNS:
        path = str(spec.get("jsonPath") or "")
        try:
            jsonpath = compile_jsonpath(path)
        except JSONPathError:
            break  # Kubernetes keeps the columns before an unparsable one
        description = spec.get("description") or (
            f"Custom resource definition column (in JSONPath format): {path}"
        )
        column = Column(
            name=str(spec.get("name") or ""),
            type=spec.get("type", "string"),
            description=str(description),
            priority=int(spec.get("priority") or 0),
            format=str(spec.get("format") or ""),
        )
        compiled.append((column, jsonpath))
    return compiled


def column_set(columns: list[dict[str, Any]]) -> ColumnSet:
    """The printing of one CRD version: Name, then its declared columns (or Age)."""
    compiled = _compiled(columns)

    def cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        row: list[Any] = [name if isinstance(name, str) else ""]
        for column, jsonpath in compiled:
            found = jsonpath.find(obj)
            row.append(cell(column.type, found[0], now) if found else None)
        return row

    return ColumnSet((NAME, *(column for column, _ in compiled)), cells)


def custom_table(
    columns: list[dict[str, Any]],
    items: list[dict[str, Any]],
    *,
    now: datetime,
    include_object: str,
    resource_version: str,
    continue_token: str = "",
) -> dict[str, Any]:
    """Custom resources as a ``meta.k8s.io/v1`` Table (raises ValueError on a bad includeObject)."""
    return build_table(
        _TABLE_KIND,
        items,
        now=now,
        include_object=include_object,
        resource_version=resource_version,
        continue_token=continue_token,
        column_sets={_TABLE_KIND: column_set(columns)},
    )


# -- CRD validation ----------------------------------------------------------------


def _check_column(column: Mapping[str, Any], field: str) -> list[Cause]:
    causes: list[Cause] = []
    if not column.get("name"):
        causes.append(required(f"{field}.name"))
    must_be = f"must be one of {','.join(TYPES)}"
    column_type = column.get("type")
    if not column_type:
        causes.append(required(f"{field}.type", must_be))
    elif column_type not in TYPES:
        causes.append(invalid(f"{field}.type", column_type, must_be))
    column_format = column.get("format")
    if column_format and column_format not in FORMATS:
        causes.append(
            invalid(f"{field}.format", column_format, f"must be one of {','.join(FORMATS)}")
        )
    path = column.get("jsonPath")
    if not path:
        causes.append(required(f"{field}.JSONPath"))  # sic: Kubernetes names the Go field
    elif not isinstance(path, str) or not path.startswith("."):
        causes.append(
            invalid(f"{field}.JSONPath", path, "must be a simple json path starting with .")
        )
    else:
        try:
            compile_jsonpath(path)
        except JSONPathError as exc:
            causes.append(invalid(f"{field}.JSONPath", path, f"is not a valid JSONPath: {exc}"))
    priority = column.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        causes.append(invalid(f"{field}.priority", priority, "must be an integer"))
    elif priority < 0:
        causes.append(invalid(f"{field}.priority", priority, "must be greater than or equal to 0"))
    return causes


def check_columns(columns: Any, field: str) -> list[Cause]:
    """What is wrong with a CRD version's ``additionalPrinterColumns`` (at ``field``)."""
    if columns is None:
        return []
    if not isinstance(columns, list):
        return [invalid(field, columns, "must be a list of column definitions")]
    causes: list[Cause] = []
    for index, column in enumerate(columns):
        if isinstance(column, Mapping):
            causes.extend(_check_column(column, f"{field}[{index}]"))
        else:
            causes.append(invalid(f"{field}[{index}]", column, "must be an object"))
    return causes

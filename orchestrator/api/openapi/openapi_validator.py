"""kube-openapi's schema validator, for one value against one schema node.

This is the part of Kubernetes' custom resource validation that speaks
``... in body should be ...``. It is a port of the behaviour of
``k8s.io/kube-openapi/pkg/validation/validate`` as Kubernetes 1.31 runs it:

- Each node runs its validators in a fixed order: type, the junctors
  (``anyOf``, ``oneOf``, ``allOf``, ``not``), string (``maxLength``, then
  ``minLength``, then ``pattern``; only the first failure is reported),
  format, number (``multipleOf``, ``minimum``, ``maximum``), array (items,
  ``minItems``, ``maxItems``, ``uniqueItems``), ``enum``, object
  (``min``/``maxProperties``, ``additionalProperties``, declared
  properties, ``required``). A validator runs when the *value's* type fits
  it, whatever the schema's type says, so a string under ``type: integer``
  reports the type error and still meets ``maxLength``.
- Integral floats pass as integers; integers pass as numbers; ``null``
  fails a typed, non-nullable node; a ``format`` is checked only when
  Kubernetes keeps it (``formats.validated_format``).
- Numbers compare as Go does: an integer value is compared with the bound
  truncated to an integer (``maximum: 2.5`` reads as 2 for the integer 3).
- ``anyOf``/``oneOf`` that fail report the branch that got furthest, judged
  by kube-openapi's "match count" (how many validators ran); ``walk``
  returns that count so junctors can compare branches.
"""

from __future__ import annotations

import json
import math
from typing import Any

from orchestrator.api.openapi.formats import matches_format, validated_format
from orchestrator.api.openapi.openapi_errors import (
    COMPOSITE,
    ENUM,
    OTHER,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE,
    Violation,
)
from orchestrator.api.openapi.patterns import PatternError, compile_pattern
from orchestrator.api.openapi.values import is_json_integer, json_equal
from orchestrator.api.validation_causes import go_float

INT_OR_STRING = ("integer", "string")
TYPE_TUPLES = {t: (t,) for t in ("object", "array", "string", "integer", "number", "boolean")}
GO_TYPES: dict[type, tuple[str, str]] = {
    bool: ("boolean", ""),
    int: ("integer", "int64"),
    float: ("number", "float64"),
    str: ("string", ""),
    list: ("array", ""),
    dict: ("object", ""),
}


def walk(value: Any, schema: dict[str, Any], name: str, out: list[Violation]) -> int:
    """Append the violations of ``value`` at validator path ``name``; return the match count."""
    types = _types(schema)
    fmt = validated_format(schema) if "format" in schema else ""
    if value is None:
        matched = check_type(value, types, fmt, schema, name, out)
        if schema.get("enum"):
            check_enum(value, schema["enum"], name, out)
        return matched
    count = 1
    if types or fmt:
        count += check_type(value, types, fmt, schema, name, out) + 1
    if "anyOf" in schema or "oneOf" in schema or "allOf" in schema or "not" in schema:
        count += _junctors(value, schema, name, out) + 1
    else:
        count += 2
    if isinstance(value, str):
        count += 1
        if "maxLength" in schema or "minLength" in schema or "pattern" in schema:
            check_string(value, schema, name, out)
        if fmt:
            count += 1
            if not matches_format(fmt, value):
                out.append(Violation(TYPE, name, value, type_message(name, fmt, value)))
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        count += 2
        check_number(value, schema, name, out)
    elif isinstance(value, list):
        count += _check_array(value, schema, name, out) + 1
    count += 1
    enum = schema.get("enum")
    if enum:
        check_enum(value, enum, name, out)
    if isinstance(value, dict):
        count += _check_object(value, schema, name, out) + 1
    return count


def _types(schema: dict[str, Any]) -> tuple[str, ...]:
    if schema.get("x-kubernetes-int-or-string"):
        return INT_OR_STRING
    declared = schema.get("type")
    if not declared or not isinstance(declared, str):
        return ()
    return TYPE_TUPLES.get(declared) or (declared,)


def type_message(name: str, type_name: str, shown: str) -> str:
    return f"{name} in body must be of type {type_name}: {json.dumps(shown, ensure_ascii=False)}"


def check_type(
    value: Any,
    types: tuple[str, ...],
    fmt: str,
    schema: dict[str, Any],
    name: str,
    out: list[Violation],
) -> int:
    if value is None:
        if types and not schema.get("nullable"):
            out.append(Violation(TYPE, name, "null", type_message(name, ",".join(types), "null")))
            return 0
        return 1
    actual, go_format = GO_TYPES.get(type(value)) or _go_type(value)
    if actual in types and not fmt:
        return 1
    float_int = actual == "number" and "integer" in types and is_json_integer(value)
    int_float = actual == "integer" and "number" in types
    fits = actual in types or float_int or int_float
    if fmt and not isinstance(value, str | list) and not (fits or go_format == fmt):
        out.append(Violation(TYPE, name, go_format, type_message(name, fmt, go_format)))
        return 0
    if fmt and isinstance(value, str | list) and "number" not in types and "integer" not in types:
        return 1
    if not fits:
        out.append(Violation(TYPE, name, actual, type_message(name, ",".join(types), actual)))
        return 0
    return 1


def _go_type(value: Any) -> tuple[str, str]:
    for kind, answer in GO_TYPES.items():
        if isinstance(value, kind):
            return answer
    return "object", ""


def _junctors(value: Any, schema: dict[str, Any], name: str, out: list[Violation]) -> int:
    count = 0
    any_of = schema.get("anyOf")
    if any_of:
        best: tuple[int, list[Violation]] | None = None
        success: int | None = None
        for branch in any_of:
            found: list[Violation] = []
            matched = walk(value, branch, name, found)
            if not found:
                success, best = matched, None
                break
            if best is None or matched > best[0]:
                best = (matched, found)
        if success is None:
            message = f"{json.dumps(name)} must validate at least one schema (anyOf)"
            out.append(Violation(COMPOSITE, name, "", message))
        if best is not None:
            out.extend(best[1])
            count += best[0]
        elif success is not None:
            count += success
    one_of = schema.get("oneOf")
    if one_of:
        count += _one_of(value, one_of, name, out)
    all_of = schema.get("allOf")
    if all_of:
        passed = 0
        for branch in all_of:
            found = []
            count += walk(value, branch, name, found)
            passed += not found
            out.extend(found)
        if passed != len(all_of):
            tail = ". None validated" if passed == 0 else ""
            message = f"{json.dumps(name)} must validate all the schemas (allOf){tail}"
            out.append(Violation(COMPOSITE, name, "", message))
    not_schema = schema.get("not")
    if isinstance(not_schema, dict):
        found = []
        walk(value, not_schema, name, found)
        if not found:
            message = f"{json.dumps(name)} must not validate the schema (not)"
            out.append(Violation(COMPOSITE, name, "", message))
    return count + 1


def _one_of(value: Any, branches: list[Any], name: str, out: list[Violation]) -> int:
    best: tuple[int, list[Violation]] | None = None
    first: int | None = None
    passed = 0
    for branch in branches:
        found: list[Violation] = []
        matched = walk(value, branch, name, found)
        if not found:
            passed += 1
            best = None
            first = matched if first is None else first
        elif passed == 0 and (best is None or matched > best[0]):
            best = (matched, found)
    if passed == 1:
        return first or 0
    tail = "Found none valid" if passed == 0 else f"Found {passed} valid alternatives"
    message = f"{json.dumps(name)} must validate one and only one schema (oneOf). {tail}"
    out.append(Violation(COMPOSITE, name, "", message))
    if best is None:
        return 0
    out.extend(best[1])
    return best[0]


def check_string(value: str, schema: dict[str, Any], name: str, out: list[Violation]) -> None:
    limit = schema.get("maxLength")
    if limit is not None and len(value) > limit:
        message = f"{name} in body should be at most {int(limit)} chars long"
        out.append(Violation(TOO_LONG, name, value, message, limit=int(limit)))
        return
    limit = schema.get("minLength")
    if limit is not None and len(value) < limit:
        message = f"{name} in body should be at least {int(limit)} chars long"
        out.append(Violation(OTHER, name, value, message))
        return
    pattern = schema.get("pattern")
    if pattern:
        try:
            matched = compile_pattern(pattern).search(value) is not None
            shown = pattern
        except PatternError as exc:
            matched, shown = False, f"{pattern}, but pattern is invalid: {exc}"
        if not matched:
            out.append(Violation(OTHER, name, value, f"{name} in body should match '{shown}'"))


def check_number(
    value: int | float, schema: dict[str, Any], name: str, out: list[Violation]
) -> None:
    is_int = isinstance(value, int)
    factor = schema.get("multipleOf")
    if factor is not None:
        _check_multiple(value, factor, name, out)
    bound = schema.get("minimum")
    if bound is not None:
        exclusive = bool(schema.get("exclusiveMinimum"))
        limit = int(bound) if is_int else float(bound)
        if value < limit or (exclusive and value == limit):
            word = "greater than" if exclusive else "greater than or equal to"
            message = f"{name} in body should be {word} {_number_text(limit)}"
            out.append(Violation(OTHER, name, value, message))
    bound = schema.get("maximum")
    if bound is not None:
        exclusive = bool(schema.get("exclusiveMaximum"))
        limit = int(bound) if is_int else float(bound)
        if value > limit or (exclusive and value == limit):
            word = "less than" if exclusive else "less than or equal to"
            message = f"{name} in body should be {word} {_number_text(limit)}"
            out.append(Violation(OTHER, name, value, message))


def _check_multiple(value: int | float, factor: Any, name: str, out: list[Violation]) -> None:
    if isinstance(value, int):
        step: int | float = int(factor)
        if step <= 0:
            message = f"factor MultipleOf declared for {name} must be positive: {step}"
            out.append(Violation(OTHER, name, step, message))
        elif value % step:
            message = f"{name} in body should be a multiple of {step}"
            out.append(Violation(OTHER, name, value, message))
        return
    step = float(factor)
    if step <= 0:
        message = f"factor MultipleOf declared for {name} must be positive: {go_float(step)}"
        out.append(Violation(OTHER, name, step, message))
        return
    ratio = (1 / step) * value if step < 1 else value / step
    if math.isinf(ratio) or not is_json_integer(ratio):
        message = f"{name} in body should be a multiple of {go_float(step)}"
        out.append(Violation(OTHER, name, value, message))


def _number_text(limit: int | float) -> str:
    return str(limit) if isinstance(limit, int) else go_float(limit)


def _check_array(value: list[Any], schema: dict[str, Any], name: str, out: list[Violation]) -> int:
    count = 0
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            count += walk(item, items, f"{name}[{i}]", out)
    array_limits(value, schema, name, out)
    return count + 1


def array_limits(value: list[Any], schema: dict[str, Any], name: str, out: list[Violation]) -> None:
    """``minItems``, ``maxItems``, ``uniqueItems``, in that order."""
    size = len(value)
    limit = schema.get("minItems")
    if limit is not None and size < limit:
        message = f"{name} in body should have at least {int(limit)} items"
        out.append(Violation(OTHER, name, size, message))
    limit = schema.get("maxItems")
    if limit is not None and size > limit:
        message = f"{name} in body should have at most {int(limit)} items"
        out.append(Violation(TOO_MANY, name, size, message, limit=int(limit)))
    if schema.get("uniqueItems") and _has_duplicates(value):
        out.append(Violation(OTHER, name, None, f"{name} in body shouldn't contain duplicates"))


def _has_duplicates(value: list[Any]) -> bool:
    return any(json_equal(a, b) for i, a in enumerate(value) for b in value[:i])


def check_enum(value: Any, enum: list[Any], name: str, out: list[Violation]) -> None:
    if value is not None and any(json_equal(value, allowed) for allowed in enum):
        return
    message = f"{name} in body should be one of {enum}"
    out.append(Violation(ENUM, name, value, message, values=tuple(enum)))


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], name: str, out: list[Violation]
) -> int:
    count = 0
    check_object_size(value, schema, name, out)
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    if extra is False:
        for key in value:
            if key not in properties:
                out.append(forbidden_property(name, key))
    elif isinstance(extra, dict):
        for key, item in value.items():
            if key not in properties:
                count += walk(item, extra, f"{name}.{key}", out)
    if properties:
        for key, item in value.items():
            child = properties.get(key)
            if child is not None:
                count += walk(item, child, f"{name}.{key}" if name else key, out)
    for key in schema.get("required") or ():
        if key not in value:
            out.append(
                Violation(REQUIRED, f"{name}.{key}", None, f"{name}.{key} in body is required")
            )
    return count


def check_object_size(
    value: dict[str, Any], schema: dict[str, Any], name: str, out: list[Violation]
) -> None:
    """``minProperties`` then ``maxProperties``."""
    size = len(value)
    limit = schema.get("minProperties")
    if limit is not None and size < limit:
        message = f"{name} in body should have at least {int(limit)} properties"
        out.append(Violation(OTHER, name, size, message))
    limit = schema.get("maxProperties")
    if limit is not None and size > limit:
        message = f"{name} in body should have at most {int(limit)} properties"
        out.append(Violation(TOO_MANY, name, size, message, limit=int(limit)))


def forbidden_property(name: str, key: str) -> Violation:
    """A key that ``additionalProperties: false`` refuses."""
    return Violation(OTHER, name, key, f"{name}.{key} in body is a forbidden property")

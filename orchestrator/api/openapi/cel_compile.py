"""One ``x-kubernetes-validations`` entry, checked and compiled at CRD write.

The checks and their messages follow apiextensions' ``ValidateCustomResource
DefinitionOpenAPISchema`` (v1.31) in its order: first the entry's own fields
(``rule`` required, ``message`` without line breaks, ``reason`` one of four,
``fieldPath`` a valid path), and only when those pass, compilation:

- the library parses the rule; its syntax errors already read like cel-go's
  (``ERROR: <input>:1:11: Syntax error: mismatched input ...`` plus the
  source line and a caret), we only indent them as cel-go does;
- cel-go also type-checks against the schema; the library cannot, so
  ``cel_source`` finds the checker's three most common findings by scanning:
  ``undeclared reference to 'x' (in container '')`` for unknown functions and
  variables and ``undefined field 'x'`` for a selection the schema does not
  declare. Type mismatches (``found no matching overload``) go unnoticed
  until evaluation, which then reports them on the object;
- a rule using ``oldSelf`` below the items of a list that is not
  ``x-kubernetes-list-type: map`` is refused (nothing to correlate it with).

A bad compiled entry is reported as Kubernetes does, with Go's ``%#v`` of the
internal ``ValidationRule`` as the value (``Invalid value:
apiextensions.ValidationRule{Rule:"self.x", ...}: compilation failed: ...``);
a set pointer prints as an address there, for which we print a fixed one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cel

from orchestrator.api.openapi.cel_library import KNOWN_CALLS
from orchestrator.api.openapi.cel_source import RuleShape, read_shape
from orchestrator.api.openapi.cel_values import CelType, valid_field_path
from orchestrator.api.validation_causes import (
    INVALID,
    Cause,
    invalid,
    not_supported,
    required,
)

REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")
_FAKE_POINTER = "0xc000a1b2c0"  # Go prints the address of a set pointer field


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: programs, how to report a failure, what it reads."""

    rule: str
    message: str  # trimmed; "" when unset
    message_expression: str
    program: cel.Program
    message_program: cel.Program | None
    reason: str  # a Cause reason
    field_path: str | None  # normalised, appended to the node's path
    uses_old_self: bool
    optional_old_self: bool
    shape: RuleShape
    message_shape: RuleShape | None

    @property
    def reads(self) -> frozenset[str] | None:
        """Top-level fields of self the rule and its messageExpression read; None: all."""
        shapes = [self.shape] if self.message_shape is None else [self.shape, self.message_shape]
        if any(shape.self_fields is None for shape in shapes):
            return None
        return frozenset().union(*(shape.self_fields or () for shape in shapes))

    @property
    def calls(self) -> set[str]:
        shapes = [self.shape] if self.message_shape is None else [self.shape, self.message_shape]
        return {call.name for shape in shapes for call in shape.calls}

    @property
    def error_name(self) -> str:
        """The rule as Kubernetes names it in errors: its message, else its text."""
        return self.message or self.rule.strip()

    @property
    def default_message(self) -> str:
        return self.message or f"failed rule: {self.rule.strip()}"


def check_fields(entry: Mapping[str, Any], path: str, schema: Mapping[str, Any]) -> list[Cause]:
    """The entry's own fields, before any compilation ("SchemaErrors" upstream)."""
    causes = []
    rule = str(entry.get("rule") or "")
    message = str(entry.get("message") or "")
    trimmed_message = message.strip()
    if not rule.strip():
        causes.append(required(f"{path}.rule", "rule is not specified"))
    elif message and not trimmed_message:
        causes.append(invalid(f"{path}.message", message, "message must be non-empty if specified"))
    elif _has_newlines(trimmed_message):
        causes.append(invalid(f"{path}.message", message, "message must not contain line breaks"))
    elif _has_newlines(rule.strip()) and not trimmed_message:
        detail = "message must be specified if rule contains line breaks"
        causes.append(required(f"{path}.message", detail))
    expression = entry.get("messageExpression")
    if expression and not str(expression).strip():
        detail = "messageExpression must be non-empty if specified"
        causes.append(required(f"{path}.messageExpression", detail))
    reason = entry.get("reason")
    if reason is not None and reason not in REASONS:
        causes.append(not_supported(f"{path}.reason", reason, REASONS))
    field_path = entry.get("fieldPath")
    if field_path is not None and field_path != "":
        field_path = str(field_path)
        if not field_path.strip():
            detail = "fieldPath must be non-empty if specified"
            causes.append(invalid(f"{path}.fieldPath", field_path, detail))
        if _has_newlines(field_path):
            detail = "fieldPath must not contain line breaks"
            causes.append(invalid(f"{path}.fieldPath", field_path, detail))
        try:
            valid_field_path(field_path, schema)
        except ValueError:
            causes.append(
                invalid(f"{path}.fieldPath", field_path, "fieldPath must be a valid path")
            )
    return causes


def compile_entry(
    entry: Mapping[str, Any],
    path: str,
    schema: Mapping[str, Any],
    view: CelType,
    uncorrelatable: str | None,
) -> tuple[CompiledRule | None, list[Cause]]:
    """Compile one entry whose fields passed ``check_fields`` ("CELErrors" upstream).

    ``uncorrelatable`` is the path of the nearest enclosing non-map list, if any.
    Returns None for an empty rule (Kubernetes skips it) or one that failed.
    """
    rule = str(entry.get("rule") or "")
    if not rule.strip():
        return None, []
    causes: list[Cause] = []
    go_value = _go_rule(entry)
    program, errors = _compile(rule, view, optional=bool(entry.get("optionalOldSelf")))
    if errors:
        causes.append(_go_invalid(f"{path}.rule", go_value, f"compilation failed: {errors}"))
    expression = str(entry.get("messageExpression") or "")
    message_program = None
    if expression:
        message_program, errors = _compile(expression, view, optional=False)
        if errors:
            detail = f"messageExpression compilation failed: {errors}"
            causes.append(_go_invalid(f"{path}.messageExpression", go_value, detail))
    shape = read_shape(rule)
    uses_old_self = any(ref.name == "oldSelf" for ref in shape.free_names)
    if uses_old_self and uncorrelatable is not None:
        detail = (
            "oldSelf cannot be used on the uncorrelatable portion of the schema within "
            f"{uncorrelatable}"
        )
        causes.append(invalid(f"{path}.rule", rule, detail))
    elif not uses_old_self and entry.get("optionalOldSelf") is not None:
        detail = "may not be set if oldSelf is not used in rule"
        causes.append(invalid(f"{path}.optionalOldSelf", entry["optionalOldSelf"], detail))
    if causes or program is None:
        return None, causes
    field_path = entry.get("fieldPath")
    compiled = CompiledRule(
        rule=rule,
        message=str(entry.get("message") or "").strip(),
        message_expression=expression,
        program=program,
        message_program=message_program,
        reason=str(entry.get("reason") or INVALID),
        field_path=valid_field_path(field_path, schema) if field_path else None,
        uses_old_self=uses_old_self,
        optional_old_self=bool(entry.get("optionalOldSelf")),
        shape=shape,
        message_shape=read_shape(expression) if expression else None,
    )
    return compiled, []


def _compile(source: str, view: CelType, optional: bool) -> tuple[cel.Program | None, str]:
    """The program, or cel-go's rendering of what is wrong with ``source``."""
    try:
        program = cel.compile(source)
    except ValueError as exc:
        text = str(exc)
        start = text.find("ERROR: ")
        text = text[start:] if start >= 0 else text
        return None, "\n".join(
            " " + line if line.startswith("| ") else line for line in text.split("\n")
        )
    problems = _static_problems(source, view, optional)
    if problems:
        return None, "\n".join(_render_issue(source, offset, text) for offset, text in problems)
    return program, ""


def _static_problems(source: str, view: CelType, optional: bool) -> list[tuple[int, str]]:
    """What cel-go's checker would refuse that a scan can see (module docstring)."""
    shape = read_shape(source)
    problems = []
    for call in shape.calls:
        if call.name not in KNOWN_CALLS:
            problems.append(
                (call.offset, f"undeclared reference to '{call.name}' (in container '')")
            )
    for ref in shape.free_names:
        if ref.name not in ("self", "oldSelf"):
            problems.append((ref.offset, f"undeclared reference to '{ref.name}' (in container '')"))
    for selection in shape.selections:
        if selection.root == "oldSelf" and optional:
            continue  # oldSelf is optional(T): selecting through it is not a plain field access
        node: CelType | None = view
        for name, offset in zip(selection.names, selection.offsets, strict=True):
            if node is None or node.kind == "dyn":
                break
            if node.kind == "map":
                node = node.elem
            elif node.kind == "object":
                if name not in node.by_cel_name:
                    problems.append((offset, f"undefined field '{name}'"))
                    break
                node = node.by_cel_name[name]
            else:
                problems.append(
                    (offset, f"type '{_type_name(node)}' does not support field selection")
                )
                break
    return sorted(problems)


def _type_name(node: CelType) -> str:
    if node.kind == "list":
        return f"list({_type_name(node.elem) if node.elem else 'dyn'})"
    if node.kind == "map":
        return f"map(string, {_type_name(node.elem) if node.elem else 'dyn'})"
    return {"timestamp": "google.protobuf.Timestamp", "duration": "google.protobuf.Duration"}.get(
        node.kind, node.kind
    )


def _render_issue(source: str, offset: int, text: str) -> str:
    """One error as cel-go prints it: position, message, source line, caret."""
    line_no = source.count("\n", 0, offset) + 1
    line_start = source.rfind("\n", 0, offset) + 1
    line_end = source.find("\n", offset)
    line = source[line_start : line_end if line_end >= 0 else len(source)]
    column = offset - line_start + 1
    return f"ERROR: <input>:{line_no}:{column}: {text}\n | {line}\n | {'.' * (column - 1)}^"


def _has_newlines(text: str) -> bool:
    return "\n" in text or "\r" in text


def _go_rule(entry: Mapping[str, Any]) -> str:
    """``%#v`` of apiextensions.ValidationRule, as the value of a compile error."""

    def quote(value: Any) -> str:
        return json.dumps(str(value or ""), ensure_ascii=False)

    reason = "nil" if entry.get("reason") is None else _FAKE_POINTER
    optional = "nil" if entry.get("optionalOldSelf") is None else _FAKE_POINTER
    return (
        f"apiextensions.ValidationRule{{Rule:{quote(entry.get('rule'))}, "
        f"Message:{quote(entry.get('message'))}, "
        f"MessageExpression:{quote(entry.get('messageExpression'))}, "
        f"Reason:(*apiextensions.FieldValueErrorReason)({reason}), "
        f"FieldPath:{quote(entry.get('fieldPath'))}, OptionalOldSelf:(*bool)({optional})}}"
    )


def _go_invalid(field: str, go_value: str, detail: str) -> Cause:
    return Cause(field, INVALID, f"Invalid value: {go_value}: {detail}")

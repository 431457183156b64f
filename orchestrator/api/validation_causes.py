"""One bad field, said the way Kubernetes says it.

A ``Cause`` is what ends up in a 422 Status's ``details.causes``: the field
path, a reason from Kubernetes' ``field.ErrorType`` vocabulary and the
message body (``Invalid value: "Bad_Name": a lowercase RFC 1123 ...``). The
constructors below render values as Go's ``field.Error`` does: strings
quoted, numbers and booleans bare, anything else as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
NOT_FOUND = "FieldValueNotFound"


@dataclass(frozen=True)
class Cause:
    """One bad field: path, Kubernetes reason, message body."""

    field: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The ``details.causes`` entry of a Status."""
        return {"reason": self.reason, "message": self.message, "field": self.field}


def render_value(value: Any) -> str:
    """A value as Go's field errors print it."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def required(field: str, detail: str = "") -> Cause:
    return Cause(field, REQUIRED, f"Required value: {detail}" if detail else "Required value")


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, INVALID, f"Invalid value: {render_value(value)}: {detail}")


def not_supported(field: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(render_value(s) for s in supported)
    message = f"Unsupported value: {render_value(value)}: supported values: {quoted}"
    return Cause(field, NOT_SUPPORTED, message)


def duplicate(field: str, value: Any) -> Cause:
    return Cause(field, DUPLICATE, f"Duplicate value: {render_value(value)}")


def forbidden(field: str, detail: str) -> Cause:
    return Cause(field, FORBIDDEN, f"Forbidden: {detail}")


def too_long(field: str, limit: int) -> Cause:
    return Cause(field, TOO_LONG, f"Too long: must have at most {limit} bytes")


def not_found(field: str, value: Any) -> Cause:
    return Cause(field, NOT_FOUND, f"Not found: {render_value(value)}")


def invalid_all(field: str, value: Any, messages: Iterable[str]) -> list[Cause]:
    """One ``invalid`` cause per message of a name check."""
    return [invalid(field, value, message) for message in messages]

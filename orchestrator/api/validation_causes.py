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
TOO_MANY = "FieldValueTooMany"
TYPE_INVALID = "FieldValueTypeInvalid"
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
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def go_float(value: float) -> str:
    """A float as Go's ``%v`` prints it: ``3``, ``2.5``, ``1e+06``, ``1e-05``.

    Go uses the shortest round-tripping digits (as Python's ``repr``) but
    switches to exponent form when the decimal exponent is below -4 or at
    least 6, and drops a trailing ``.0``.
    """
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if str(value).startswith("-") else ""
    if value == 0:
        return f"{sign}0"
    mantissa, _, exp_text = f"{abs(value)!r}".partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp_text or 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0")
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


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


def too_long_max_length(field: str, limit: int) -> Cause:
    """A schema ``maxLength`` violation, worded as Kubernetes 1.31 does (``TooLongMaxLength``)."""
    return Cause(field, TOO_LONG, f"Too long: may not be longer than {limit}")


def too_many(field: str, actual: int, limit: int) -> Cause:
    """More items (or properties) than allowed: ``Too many: 4: must have at most 3 items``."""
    return Cause(field, TOO_MANY, f"Too many: {actual}: must have at most {limit} items")


def type_invalid(field: str, value: Any, detail: str) -> Cause:
    """A value of the wrong type; rendered like ``invalid`` under its own reason."""
    return Cause(field, TYPE_INVALID, f"Invalid value: {render_value(value)}: {detail}")


def not_found(field: str, value: Any) -> Cause:
    return Cause(field, NOT_FOUND, f"Not found: {render_value(value)}")


def invalid_all(field: str, value: Any, messages: Iterable[str]) -> list[Cause]:
    """One ``invalid`` cause per message of a name check."""
    return [invalid(field, value, message) for message in messages]

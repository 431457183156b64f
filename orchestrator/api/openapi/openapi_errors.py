"""One schema violation as kube-openapi reports it, and its ``Cause``.

kube-openapi's validator names the failing value by a dotted path of its
own (``spec.ports[0].name``; a map value is ``spec.labels.key``; the root
is ``""``) and builds an English message around it (``spec.replicas in body
should be less than or equal to 10``). The apiextensions server then turns
each into a ``field.Error`` (``kubeOpenAPIResultToFieldErrors``): the field
is the given prefix plus that path; the reason follows the failure code
(required, enum, maxLength, maxItems/maxProperties and type have their own;
all else is ``FieldValueInvalid``); the value shown is the one the validator
recorded, which for a type error is the *name* of the wrong type. Errors
that belong to no field (``anyOf``/``oneOf``/``allOf``/``not``) keep the
prefix alone, ``<nil>`` when there is none, as Kubernetes prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.api.openapi.values import canonical_json
from orchestrator.api.validation_causes import (
    Cause,
    invalid,
    not_supported,
    required,
    too_long_max_length,
    too_many,
    type_invalid,
)

REQUIRED = "required"
ENUM = "enum"
TOO_LONG = "too-long"
TOO_MANY = "too-many"
TYPE = "type"
OTHER = "other"
COMPOSITE = "composite"


@dataclass(frozen=True, slots=True)
class Violation:
    """One kube-openapi error: its code, validator path, recorded value and message."""

    code: str
    name: str
    value: Any
    message: str
    limit: int = -1
    values: tuple[Any, ...] = ()


def to_causes(violations: list[Violation], prefix: str) -> list[Cause]:
    """The field errors Kubernetes makes of these (repeated messages dropped, as Result does)."""
    seen: set[str] = set()
    causes: list[Cause] = []
    for violation in violations:
        if violation.message in seen:
            continue
        seen.add(violation.message)
        causes.append(_cause(violation, prefix))
    return causes


def field_of(name: str, prefix: str) -> str:
    """``prefix`` plus a validator path, or ``<nil>`` as Go prints an empty path."""
    if not name or name == ".":
        return prefix or "<nil>"
    name = name[1:] if name.startswith(".") else name
    return f"{prefix}.{name}" if prefix else name


def _cause(violation: Violation, prefix: str) -> Cause:
    if violation.code == COMPOSITE:
        return invalid(prefix or "<nil>", "", violation.message)
    field = field_of(violation.name, prefix)
    value = "" if violation.value is None else violation.value
    if violation.code == REQUIRED:
        return required(field)
    if violation.code == ENUM:
        return not_supported(field, violation.value, [_enum_text(v) for v in violation.values])
    if violation.code == TOO_LONG:
        return too_long_max_length(field, violation.limit)
    if violation.code == TOO_MANY:
        return too_many(field, violation.value, violation.limit)
    if violation.code == TYPE:
        return type_invalid(field, value, violation.message)
    return invalid(field, value, violation.message)


def _enum_text(value: Any) -> str:
    return value if isinstance(value, str) else canonical_json(value)

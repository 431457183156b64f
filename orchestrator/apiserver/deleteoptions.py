"""DeleteOptions checked field by field before a delete reads them.

Kubernetes decodes the body into a typed ``DeleteOptions``; a value of the
wrong type fails that decoding with 400 and Go's words (``json: cannot
unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds of
type int64``). Options here are plain dicts, so the same check is made
explicitly, and the delete only ever sees the types it expects: an integer
grace period within int64, ``preconditions`` an object of strings, and so on.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import errors

_INT64 = 2**63
_GO_TYPES = {
    bool: "bool",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _refuse(value: Any, field: str, go_type: str) -> errors.BadRequest:
    shown = _GO_TYPES.get(type(value), "value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = f"number {value!r}"
    return errors.BadRequest(
        f"json: cannot unmarshal {shown} into Go struct field DeleteOptions.{field} "
        f"of type {go_type}"
    )


def _int64(options: dict[str, Any], field: str) -> None:
    value = options.get(field)
    if value is None:
        return
    if isinstance(value, float) and value.is_integer() and -_INT64 <= value < _INT64:
        options[field] = int(value)  # 30.0: JSON has one number type
        return
    if isinstance(value, bool) or not isinstance(value, int) or not -_INT64 <= value < _INT64:
        raise _refuse(value, field, "int64")


def _string(value: Any, field: str) -> None:
    if value is not None and not isinstance(value, str):
        raise _refuse(value, field, "string")


def check_delete_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` if each known field has its type; 400 naming the first that does not."""
    _int64(options, "gracePeriodSeconds")
    pre = options.get("preconditions")
    if pre is not None:
        if not isinstance(pre, dict):
            raise _refuse(pre, "preconditions", "v1.Preconditions")
        for name in ("uid", "resourceVersion"):
            _string(pre.get(name), f"preconditions.{name}")
    _string(options.get("propagationPolicy"), "propagationPolicy")
    orphan = options.get("orphanDependents")
    if orphan is not None and not isinstance(orphan, bool):
        raise _refuse(orphan, "orphanDependents", "bool")
    dry_run = options.get("dryRun")
    if dry_run is not None and (
        not isinstance(dry_run, list) or not all(isinstance(v, str) for v in dry_run)
    ):
        raise _refuse(dry_run, "dryRun", "[]string")
    return options

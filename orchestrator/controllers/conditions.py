"""Timestamps and status conditions, as the API writes them.

Times are RFC 3339 UTC with second precision (``2024-05-01T12:00:00Z``),
like every ``metav1.Time``. ``set_condition`` follows Kubernetes'
``SetDeploymentCondition``: a condition whose status and reason are
unchanged is left alone (its timestamps too); one whose status is unchanged
keeps its ``lastTransitionTime``. Functions return new lists and never
modify their arguments, which may come from an informer cache.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.api.objects import Obj
from orchestrator.api.timestamps import rfc3339 as format_time


def find_condition(conditions: list[Obj] | None, type_: str) -> Obj | None:
    for condition in conditions or []:
        if condition.get("type") == type_:
            return condition
    return None


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_time(now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(conditions: list[Obj] | None, condition: Obj) -> list[Obj]:
    """``conditions`` with ``condition`` in place of the one of the same type."""
    current = find_condition(conditions, condition["type"])
    if current is not None and (
        current.get("status") == condition["status"]
        and current.get("reason") == condition["reason"]
    ):
        return list(conditions or [])
    if current is not None and current.get("status") == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    rest = [c for c in conditions or [] if c.get("type") != condition["type"]]
    return [*rest, condition]


def remove_condition(conditions: list[Obj] | None, type_: str) -> list[Obj]:
    return [c for c in conditions or [] if c.get("type") != type_]

"""Knative's "living" condition sets: Ready follows its dependents.

A kind's conditions are its dependents plus ``Ready``
(``knative.dev/pkg/apis/condition_set.go``): Ready is False with the reason
and message of the first False dependent, else Unknown with those of the
last Unknown one that gives a reason (Knative's last ``MarkUnknown`` wins:
a Service being deployed reads ``RevisionMissing``), else True. A
condition's ``lastTransitionTime`` moves only when its status changes
(``orchestrator.api.conditions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.api.conditions import Condition, find_condition, updated_condition


def cond(type_: str, status: str, reason: str = "", message: str = "") -> Condition:
    c: Condition = {"type": type_, "status": status}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def ready_of(dependents: Iterable[Condition]) -> Condition:
    listed = list(dependents)
    for c in listed:
        if c.get("status") == "False":
            return cond("Ready", "False", c.get("reason", ""), c.get("message", ""))
    unknown = [c for c in listed if c.get("status") == "Unknown"]
    if unknown:  # Knative's last MarkUnknown wins: the one furthest along that says why
        said = [c for c in unknown if c.get("reason")] or unknown
        c = said[-1]
        return cond("Ready", "Unknown", c.get("reason", ""), c.get("message", ""))
    return cond("Ready", "True")


def living(dependents: Iterable[Condition]) -> list[Condition]:
    """The dependents and Ready, sorted by type as Knative writes them."""
    listed = list(dependents)
    return sorted([*listed, ready_of(listed)], key=lambda c: c["type"])


def stamped(
    current: Iterable[Mapping[str, Any]] | None, wanted: list[Condition], now: str
) -> list[Condition]:
    """``wanted`` with transition times: kept from ``current`` where the status did not change."""
    out = []
    for c in wanted:
        fresh: Condition = {**c, "lastTransitionTime": now}
        out.append(updated_condition(find_condition(current, c["type"]), fresh))
    return out


def ready_status(obj: Mapping[str, Any]) -> Condition | None:
    return find_condition((obj.get("status") or {}).get("conditions"), "Ready")

"""Status conditions: reading them, and setting one the way Kubernetes does.

A condition is one entry of ``status.conditions``, keyed by ``type`` (one
entry per type), whose ``status`` is ``"True"``, ``"False"`` or
``"Unknown"``. Every kind that has conditions uses this module.

Reading. ``conditions_of(obj)`` is the object's list; ``condition_of`` and
``find_condition`` give the first entry of a type, as Kubernetes'
``FindStatusCondition`` and ``GetPodCondition`` do; ``condition_status`` is
its status. A status or an entry that is not a JSON object reads as absent:
objects of custom kinds, and the ones a table prints, may be any shape.

Setting. The one rule all kinds share: ``lastTransitionTime`` changes only
when ``status`` changes. ``updated_condition(current, wanted)`` is
``wanted`` with the current condition's transition time while the status
is the same (apimachinery's ``SetStatusCondition``, the kubelet's
``UpdatePodCondition``). The other fields are the kind's, and the caller
puts them in ``wanted``: ``reason`` and ``message`` everywhere;
``lastProbeTime`` for Pods (null) and Jobs; ``lastUpdateTime`` for
Deployments; ``lastHeartbeatTime`` for Nodes; ``observedGeneration`` where
a writer records the generation it saw. ``set_condition`` puts the result in
the list, in place of the current one or at the end; with
``keep_same_reason`` a condition whose status and reason are unchanged is
left alone entirely, timestamps and message included (Kubernetes'
``SetDeploymentCondition``, which keeps a steady Deployment from writing its
status on every pass).

Nothing here modifies its arguments, which may come from an informer cache:
setters return new lists and new conditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict, cast


class Condition(TypedDict, total=False):
    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str  # CamelCase, for machines
    message: str  # for people
    lastTransitionTime: str | None  # RFC 3339; the last change of status
    lastProbeTime: str | None  # Pods (null) and Jobs
    lastUpdateTime: str  # Deployments: the last change of anything
    lastHeartbeatTime: str  # Nodes: the kubelet's last report
    observedGeneration: int


def conditions_of(obj: Mapping[str, Any]) -> list[Condition]:
    """The object's ``status.conditions`` (empty when it has none)."""
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    if not isinstance(conditions, list):
        return []
    return [cast(Condition, c) for c in conditions if isinstance(c, Mapping)]


def find_condition(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> Condition | None:
    """The first condition of ``type_`` in ``conditions``, if any."""
    for condition in conditions or ():
        if isinstance(condition, Mapping) and condition.get("type") == type_:
            return cast(Condition, condition)
    return None


def condition_of(obj: Mapping[str, Any], type_: str) -> Condition | None:
    """The object's condition of ``type_``, if it has one."""
    return find_condition(conditions_of(obj), type_)


def condition_status(obj: Mapping[str, Any], type_: str, default: str = "") -> str:
    """The status of the object's ``type_`` condition; ``default`` when it has none."""
    condition = condition_of(obj, type_)
    status = condition.get("status") if condition is not None else None
    return status if isinstance(status, str) and status else default


def updated_condition(current: Mapping[str, Any] | None, wanted: Condition) -> Condition:
    """``wanted``, keeping ``current``'s lastTransitionTime if the status is unchanged."""
    if current is None or current.get("status") != wanted.get("status"):
        return wanted
    since = current.get("lastTransitionTime")
    if not since:
        return wanted
    out = wanted.copy()
    out["lastTransitionTime"] = since
    return out


def with_status(condition: Mapping[str, Any], status: str, stamp: str, **fields: Any) -> Condition:
    """``condition`` with ``status`` and ``fields``, transitioning at ``stamp`` on a change."""
    wanted = cast(Condition, {**condition, **fields, "status": status, "lastTransitionTime": stamp})
    return updated_condition(condition, wanted)


def set_condition(
    conditions: Iterable[Mapping[str, Any]] | None,
    wanted: Condition,
    *,
    keep_same_reason: bool = False,
) -> list[Condition]:
    """``conditions`` with ``wanted`` set in place of the condition of its type (or added)."""
    listed = [cast(Condition, c) for c in conditions or ()]
    current = find_condition(listed, wanted["type"])
    if current is None:
        return [*listed, wanted]
    if (
        keep_same_reason
        and current.get("status") == wanted.get("status")
        and current.get("reason") == wanted.get("reason")
    ):
        return listed
    new = updated_condition(current, wanted)
    return [new if c is current else c for c in listed]


def remove_condition(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> list[Condition]:
    """``conditions`` without those of ``type_``."""
    return [cast(Condition, c) for c in conditions or () if c.get("type") != type_]

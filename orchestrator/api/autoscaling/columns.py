"""``kubectl get hpa``: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE.

Cells follow kubectl's printer (``printHorizontalPodAutoscaler``): the
reference is ``Kind/name``; each metric prints ``<resource>: current/target``
(``cpu: 12%/50%``, ``<unknown>/50%`` before the first reading, a quantity
for average values), at most three then ``+ N more...``; ``<unset>`` for a
missing ``minReplicas``. A v1 object is read through its v2 form.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orchestrator.api.autoscaling.conversion import V1, to_v2
from orchestrator.api.tables import AGE, NAME, Column, ColumnSet, human_duration

SHOWN_METRICS = 3


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _pair(target: dict[str, Any], current: dict[str, Any]) -> str:
    if target.get("type") == "Utilization" or (
        target.get("averageUtilization") is not None and target.get("type") is None
    ):
        now = current.get("averageUtilization")
        shown = f"{now}%" if now is not None else "<unknown>"
        return f"{shown}/{target.get('averageUtilization')}%"
    key = "value" if target.get("type") == "Value" else "averageValue"
    now = current.get(key)
    return f"{now if now is not None else '<unknown>'}/{target.get(key)}"


def format_targets(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    metrics = _list(spec.get("metrics"))
    statuses = _list(status.get("currentMetrics"))
    if not metrics:
        return "<none>"
    parts: list[str] = []
    for i, metric in enumerate(metrics):
        kind = metric.get("type")
        field = {
            "Resource": "resource",
            "ContainerResource": "containerResource",
            "Pods": "pods",
            "Object": "object",
            "External": "external",
        }.get(str(kind), "")
        source = _dict(metric.get(field))
        current = _dict(_dict(statuses[i].get(field)).get("current")) if i < len(statuses) else {}
        pair = _pair(_dict(source.get("target")), current)
        if kind in ("Resource", "ContainerResource"):
            parts.append(f"{source.get('name', '')}: {pair}")
        else:
            parts.append(f"{_dict(source.get('metric')).get('name', '')}: {pair}")
    if len(parts) > SHOWN_METRICS:
        return f"{', '.join(parts[:SHOWN_METRICS])} + {len(parts) - SHOWN_METRICS} more..."
    return ", ".join(parts)


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    stamp = _dict(obj.get("metadata")).get("creationTimestamp")
    if not isinstance(stamp, str):
        return "<unknown>"
    try:
        created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((now - created).total_seconds())


def hpa_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    if obj.get("apiVersion") == V1:
        obj = to_v2(dict(obj))
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    ref = _dict(spec.get("scaleTargetRef"))
    low = spec.get("minReplicas")
    return [
        _dict(obj.get("metadata")).get("name", ""),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_targets(spec, status),
        str(low) if low is not None else "<unset>",
        spec.get("maxReplicas") or 0,
        status.get("currentReplicas") or 0,
        _age(obj, now),
    ]


HPA_COLUMNS = ColumnSet(
    (
        NAME,
        Column("Reference", description="The scale target: its kind and name."),
        Column("Targets", description="Current and target value of each metric."),
        Column("MinPods", description="The lower bound of the replica count."),
        Column("MaxPods", type="integer", description="The upper bound of the replica count."),
        Column("Replicas", type="integer", description="The target's current replica count."),
        AGE,
    ),
    hpa_cells,
)

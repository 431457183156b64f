"""autoscaling/v1 <-> v2 HorizontalPodAutoscaler, as Kubernetes converts them.

v1 knows one metric, ``targetCPUUtilizationPercentage``: it is the v2
Resource metric ``cpu`` with an ``Utilization`` target. Whatever else a v2
object holds survives a v1 read-modify-write in the annotations Kubernetes
uses: ``autoscaling.alpha.kubernetes.io/metrics`` (the other metrics),
``.../current-metrics`` (the whole status metrics), ``.../behavior`` and
``.../conditions``. The metrics in those annotations have v1's own
(v2beta1-shaped) MetricSpec form: ``{"type": "Resource", "resource":
{"name": "memory", "targetAverageUtilization": 60}}``. Converting to v1
replaces any such annotations already there with the ones it produces;
converting to v2 reads them back and drops them. A v1 object with no metric
at all gets v1's implicit default, cpu at 80% (``defaults``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from orchestrator.api.autoscaling.defaults import DEFAULT_CPU_UTILIZATION, cpu_metric
from orchestrator.api.objects import Obj

PREFIX = "autoscaling.alpha.kubernetes.io/"
METRICS = PREFIX + "metrics"
CURRENT_METRICS = PREFIX + "current-metrics"
BEHAVIOR = PREFIX + "behavior"
CONDITIONS = PREFIX + "conditions"
ROUND_TRIP = (METRICS, CURRENT_METRICS, BEHAVIOR, CONDITIONS)
V1, V2 = "autoscaling/v1", "autoscaling/v2"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_cpu_utilization(metric: Any) -> bool:
    resource = _dict(_dict(metric).get("resource"))
    return (
        _dict(metric).get("type") == "Resource"
        and resource.get("name") == "cpu"
        and _dict(resource.get("target")).get("averageUtilization") is not None
    )


def _set_annotations(meta: dict[str, Any], annotations: dict[str, str]) -> None:
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- v2 -> v1 -------------------------------------------------------------------


def to_v1(obj: Obj) -> Obj:
    """The v1 view of a stored (v2) object; v2-only content goes into annotations."""
    out: Obj = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = V1
    meta = out.setdefault("metadata", {})
    annotations = {k: v for k, v in _dict(meta.get("annotations")).items() if k not in ROUND_TRIP}
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    if "spec" in obj:
        v1_spec: Obj = {
            k: copy.deepcopy(spec[k])
            for k in ("scaleTargetRef", "minReplicas", "maxReplicas")
            if k in spec
        }
        others = []
        for metric in spec.get("metrics") or []:
            if _is_cpu_utilization(metric):
                v1_spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"][
                    "averageUtilization"
                ]
            else:
                others.append(metric_spec_to_v1(_dict(metric)))
        if others:
            annotations[METRICS] = _dump(others)
        if spec.get("behavior") is not None:
            annotations[BEHAVIOR] = _dump(spec["behavior"])
        out["spec"] = v1_spec
    if "status" in obj:
        v1_status: Obj = {
            k: copy.deepcopy(status[k])
            for k in ("observedGeneration", "lastScaleTime")
            if status.get(k) is not None
        }
        v1_status["currentReplicas"] = status.get("currentReplicas") or 0
        v1_status["desiredReplicas"] = status.get("desiredReplicas") or 0
        current = status.get("currentMetrics") or []
        for metric in current:
            resource = _dict(_dict(metric).get("resource"))
            utilization = _dict(resource.get("current")).get("averageUtilization")
            if metric.get("type") == "Resource" and resource.get("name") == "cpu":
                if utilization is not None:
                    v1_status["currentCPUUtilizationPercentage"] = utilization
        if current:
            annotations[CURRENT_METRICS] = _dump([metric_status_to_v1(_dict(m)) for m in current])
        if status.get("conditions"):
            annotations[CONDITIONS] = _dump(status["conditions"])
        out["status"] = v1_status
    _set_annotations(meta, annotations)
    return out


def _target_to_v1(target: dict[str, Any], utilization: str, average: str, value: str) -> Obj:
    pairs = ((utilization, "averageUtilization"), (average, "averageValue"), (value, "value"))
    return {v1: target[v2] for v1, v2 in pairs if v1 and target.get(v2) is not None}


# The v1 (v2beta1-shaped) names of a metric's target (spec) or current value (status), per
# source: (utilization, average value, value), "" where that source has none.
_V1_NAMES: dict[str, dict[str, tuple[str, str, str]]] = {
    "target": {
        "resource": ("targetAverageUtilization", "targetAverageValue", ""),
        "containerResource": ("targetAverageUtilization", "targetAverageValue", ""),
        "pods": ("", "targetAverageValue", ""),
        "object": ("", "averageValue", "targetValue"),
        "external": ("", "targetAverageValue", "targetValue"),
    },
    "current": {
        "resource": ("currentAverageUtilization", "currentAverageValue", ""),
        "containerResource": ("currentAverageUtilization", "currentAverageValue", ""),
        "pods": ("", "currentAverageValue", ""),
        "object": ("", "averageValue", "currentValue"),
        "external": ("", "currentAverageValue", "currentValue"),
    },
}
_SELECTOR_V1 = {"pods": "selector", "object": "selector", "external": "metricSelector"}


def metric_spec_to_v1(metric: dict[str, Any]) -> Obj:
    return _metric_to_v1(metric, "target")


def metric_status_to_v1(metric: dict[str, Any]) -> Obj:
    return _metric_to_v1(metric, "current")


def _metric_to_v1(metric: dict[str, Any], part: str) -> Obj:
    """A v2 metric spec (``part`` "target") or status ("current") in v1's annotation shape."""
    out: Obj = {"type": metric.get("type", "")}
    for source, names in _V1_NAMES[part].items():
        m = metric.get(source)
        if not isinstance(m, dict):
            continue
        item: Obj
        if source in ("resource", "containerResource"):
            item = {"name": m.get("name", "")}
            if source == "containerResource":
                item["container"] = m.get("container", "")
        else:
            item = {"target": m.get("describedObject") or {}} if source == "object" else {}
            item |= _identity_v1(_dict(m.get("metric")), _SELECTOR_V1[source])
        out[source] = item | _target_to_v1(_dict(m.get(part)), *names)
    return out


def _identity_v1(ident: dict[str, Any], selector_key: str) -> Obj:
    out: Obj = {"metricName": ident.get("name", "")}
    if ident.get("selector") is not None:
        out[selector_key] = ident["selector"]
    return out


# -- v1 -> v2 -------------------------------------------------------------------


def to_v2(obj: Obj) -> Obj:
    """The v2 (stored) form of a v1 object, with the round-trip annotations read back."""
    out: Obj = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = V2
    meta = out.setdefault("metadata", {})
    annotations = dict(_dict(meta.get("annotations")))
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    if "spec" in obj:
        v2_spec: Obj = {
            k: copy.deepcopy(spec[k])
            for k in ("scaleTargetRef", "minReplicas", "maxReplicas")
            if k in spec
        }
        metrics = [metric_spec_to_v2(m) for m in _load_list(annotations.get(METRICS))]
        if spec.get("targetCPUUtilizationPercentage") is not None:
            metrics.append(cpu_metric(spec["targetCPUUtilizationPercentage"]))
        v2_spec["metrics"] = metrics or [cpu_metric(DEFAULT_CPU_UTILIZATION)]
        behavior = _load(annotations.get(BEHAVIOR))
        if isinstance(behavior, dict):
            v2_spec["behavior"] = behavior
        out["spec"] = v2_spec
    if "status" in obj:
        v2_status: Obj = {
            k: copy.deepcopy(status[k])
            for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
            if status.get(k) is not None
        }
        current = [metric_status_to_v2(m) for m in _load_list(annotations.get(CURRENT_METRICS))]
        if not current and status.get("currentCPUUtilizationPercentage") is not None:
            current = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {
                            "averageUtilization": status["currentCPUUtilizationPercentage"]
                        },
                    },
                }
            ]
        if current:
            v2_status["currentMetrics"] = current
        conditions = _load_list(annotations.get(CONDITIONS))
        if conditions:
            v2_status["conditions"] = conditions
        out["status"] = v2_status
    _set_annotations(meta, {k: v for k, v in annotations.items() if k not in ROUND_TRIP})
    return out


def _load(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None  # as Kubernetes: an annotation that does not decode is ignored


def _load_list(text: Any) -> list[dict[str, Any]]:
    value = _load(text)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _target_to_v2(source: dict[str, Any], utilization: str, average: str, value: str) -> Obj:
    if utilization and source.get(utilization) is not None:
        return {"type": "Utilization", "averageUtilization": source[utilization]}
    if average and source.get(average) is not None:
        return {"type": "AverageValue", "averageValue": source[average]}
    if value and source.get(value) is not None:
        return {"type": "Value", "value": source[value]}
    return {}


def _current_to_v2(source: dict[str, Any], utilization: str, average: str, value: str) -> Obj:
    pairs = ((utilization, "averageUtilization"), (average, "averageValue"), (value, "value"))
    return {v2: source[v1] for v1, v2 in pairs if v1 and source.get(v1) is not None}


def _identity_v2(source: dict[str, Any], selector_key: str) -> Obj:
    ident: Obj = {"name": source.get("metricName", "")}
    if source.get(selector_key) is not None:
        ident["selector"] = source[selector_key]
    return ident


def metric_spec_to_v2(metric: dict[str, Any]) -> Obj:
    return _metric_to_v2(metric, "target")


def metric_status_to_v2(metric: dict[str, Any]) -> Obj:
    return _metric_to_v2(metric, "current")


def _metric_to_v2(metric: dict[str, Any], part: str) -> Obj:
    """A v1 annotation's metric spec (``part`` "target") or status ("current") in v2's shape."""
    convert = _target_to_v2 if part == "target" else _current_to_v2
    out: Obj = {"type": metric.get("type", "")}
    for source, names in _V1_NAMES[part].items():
        m = metric.get(source)
        if not isinstance(m, dict):
            continue
        item: Obj
        if source in ("resource", "containerResource"):
            item = {"name": m.get("name", "")}
            if source == "containerResource":
                item["container"] = m.get("container", "")
        else:
            item = {"describedObject": m.get("target") or {}} if source == "object" else {}
            item["metric"] = _identity_v2(m, _SELECTOR_V1[source])
        item[part] = convert(m, *names)
        out[source] = item
    return out

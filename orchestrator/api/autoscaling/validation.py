"""Rules of autoscaling/v2 HorizontalPodAutoscaler, in Kubernetes' words.

From ``pkg/apis/autoscaling/validation``: replica bounds (``minReplicas``
at least 1, ``maxReplicas`` above 0 and not below ``minReplicas``), the
target reference (kind and name required, path segment names), each metric
(one source of the type it names, a target of a known type with positive
values, a Resource metric with a standard container resource name and
either a utilization or an average value), and the behavior rules
(stabilization 0..3600 s, select policy, at least one policy, each of type
Pods or Percent with a positive value and a period of 1..1800 s). An
autoscaling/v1 object is validated in its v2 form, so causes name v2 paths
except for ``targetCPUUtilizationPercentage`` (see ``strategy``).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.quantity import QuantityError, parse_quantity
from orchestrator.api.schema_types import is_integer
from orchestrator.api.validation_causes import (
    Cause,
    forbidden,
    invalid,
    invalid_all,
    not_supported,
    required,
)
from orchestrator.api.validation_pods import as_dict, as_list, validate_label_selector
from orchestrator.api.validation_rbac import check_path_segment_name

METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
SOURCE_FIELDS = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "External": "external",
}
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def validate_hpa(obj: dict[str, Any]) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    low, high = spec.get("minReplicas"), spec.get("maxReplicas")
    if is_integer(low) and low < 1:
        causes.append(invalid("spec.minReplicas", low, "must be greater than or equal to 1"))
    high_value = high if is_integer(high) else 0
    if high_value < 1:
        causes.append(invalid("spec.maxReplicas", high_value, "must be greater than 0"))
    if is_integer(low) and high_value < low:
        causes.append(
            invalid(
                "spec.maxReplicas", high_value, "must be greater than or equal to `minReplicas`"
            )
        )
    causes += validate_reference("spec.scaleTargetRef", spec.get("scaleTargetRef"))
    for i, metric in enumerate(as_list(spec.get("metrics"))):
        causes += _metric(f"spec.metrics[{i}]", as_dict(metric))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key in ("scaleUp", "scaleDown"):
            if isinstance(behavior.get(key), dict):
                causes += _rules(f"spec.behavior.{key}", behavior[key])
    return causes


def validate_reference(field: str, ref: Any) -> list[Cause]:
    ref = as_dict(ref)
    causes: list[Cause] = []
    for key in ("kind", "name"):
        value = ref.get(key)
        if not value:
            causes.append(required(f"{field}.{key}"))
        elif isinstance(value, str):
            causes += invalid_all(f"{field}.{key}", value, check_path_segment_name(value))
    return causes


def _metric(field: str, metric: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    kind = metric.get("type")
    if not kind:
        causes.append(required(f"{field}.type", "must specify a metric source type"))
    if kind not in METRIC_SOURCE_TYPES:
        causes.append(not_supported(f"{field}.type", kind or "", METRIC_SOURCE_TYPES))
    present = [name for name in SOURCE_FIELDS.values() if metric.get(name) is not None]
    expected = SOURCE_FIELDS.get(str(kind), "")
    if expected and metric.get(expected) is None:
        causes.append(
            required(f"{field}.{expected}", "must populate information for the given metric source")
        )
    if len(present) != 1:
        for name in sorted(set(present) - {expected}):
            causes.append(
                forbidden(f"{field}.{name}", "must populate the given metric source only")
            )
    for name in ("resource", "containerResource"):
        source = metric.get(name)
        if isinstance(source, dict):
            causes += _resource_source(f"{field}.{name}", source, container=name != "resource")
    for name in ("pods", "object", "external"):
        source = metric.get(name)
        if isinstance(source, dict):
            causes += _identified_source(f"{field}.{name}", source, name)
    return causes


def _resource_source(field: str, source: dict[str, Any], *, container: bool) -> list[Cause]:
    causes: list[Cause] = []
    name = source.get("name")
    if not name:
        causes.append(required(f"{field}.name", "must specify a resource name"))
    elif isinstance(name, str) and "/" not in name and name not in STANDARD_CONTAINER_RESOURCES:
        if not name.startswith("hugepages-"):
            causes.append(
                invalid(f"{field}.name", name, "must be a standard resource for containers")
            )
    if container and not source.get("container"):
        causes.append(required(f"{field}.container", "must specify a container"))
    target = as_dict(source.get("target"))
    causes += _target(f"{field}.target", target)
    has_utilization = target.get("averageUtilization") is not None
    has_value = target.get("averageValue") is not None
    if not has_utilization and not has_value:
        causes.append(
            required(
                f"{field}.target.averageUtilization",
                "must set either a target raw value or a target utilization",
            )
        )
    if has_utilization and has_value:
        causes.append(
            forbidden(
                f"{field}.target.averageValue",
                "may not set both a target raw value and a target utilization",
            )
        )
    return causes


def _identified_source(field: str, source: dict[str, Any], kind: str) -> list[Cause]:
    causes: list[Cause] = []
    metric = as_dict(source.get("metric"))
    if not metric.get("name"):
        causes.append(required(f"{field}.metric.name", "must specify a metric name"))
    if isinstance(metric.get("selector"), dict):
        causes += validate_label_selector(f"{field}.metric.selector", metric["selector"])
    if kind == "object":
        causes += validate_reference(f"{field}.describedObject", source.get("describedObject"))
    target = as_dict(source.get("target"))
    causes += _target(f"{field}.target", target)
    if kind == "pods" and target.get("averageValue") is None:
        causes.append(
            required(f"{field}.target.averageValue", "must specify a positive target averageValue")
        )
    return causes


def _target(field: str, target: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    kind = target.get("type")
    if not kind:
        causes.append(required(f"{field}.type", "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        causes.append(
            invalid(
                f"{field}.type", kind or "", "must be either Utilization, Value, or AverageValue"
            )
        )
    for key in ("value", "averageValue"):
        value = target.get(key)
        if value is None:
            continue
        try:
            positive = parse_quantity(value) > 0
        except QuantityError:
            causes.append(invalid(f"{field}.{key}", value, "must be a quantity"))
            continue
        if not positive:
            causes.append(invalid(f"{field}.{key}", value, "must be positive"))
    utilization = target.get("averageUtilization")
    if is_integer(utilization) and utilization < 1:
        causes.append(invalid(f"{field}.averageUtilization", utilization, "must be greater than 0"))
    return causes


def _rules(field: str, rules: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    window = rules.get("stabilizationWindowSeconds")
    if is_integer(window) and window < 0:
        causes.append(
            invalid(
                f"{field}.stabilizationWindowSeconds",
                window,
                "must be greater than or equal to zero",
            )
        )
    if is_integer(window) and window > MAX_STABILIZATION_WINDOW_SECONDS:
        causes.append(
            invalid(
                f"{field}.stabilizationWindowSeconds",
                window,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
            )
        )
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        causes.append(not_supported(f"{field}.selectPolicy", select, SELECT_POLICIES))
    policies = as_list(rules.get("policies"))
    if not policies:
        causes.append(required(f"{field}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        causes += _policy(f"{field}.policies[{i}]", as_dict(policy))
    tolerance = rules.get("tolerance")
    if tolerance is not None:
        try:
            if parse_quantity(tolerance) < 0:
                causes.append(
                    invalid(
                        f"{field}.tolerance", tolerance, "must be greater than or equal to zero"
                    )
                )
        except QuantityError:
            causes.append(invalid(f"{field}.tolerance", tolerance, "must be a quantity"))
    return causes


def _policy(field: str, policy: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if policy.get("type") not in POLICY_TYPES:
        causes.append(not_supported(f"{field}.type", policy.get("type") or "", POLICY_TYPES))
    value = policy.get("value")
    value = value if is_integer(value) else 0
    if value <= 0:
        causes.append(invalid(f"{field}.value", value, "must be greater than zero"))
    period = policy.get("periodSeconds")
    period = period if is_integer(period) else 0
    if period <= 0:
        causes.append(invalid(f"{field}.periodSeconds", period, "must be greater than zero"))
    if period > MAX_PERIOD_SECONDS:
        causes.append(
            invalid(
                f"{field}.periodSeconds",
                period,
                f"must be less than or equal to {MAX_PERIOD_SECONDS}",
            )
        )
    return causes

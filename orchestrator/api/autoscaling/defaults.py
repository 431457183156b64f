"""Defaults of autoscaling/v2 HorizontalPodAutoscaler (Kubernetes' ``SetDefaults_*``).

- ``spec.minReplicas`` 1;
- no metric: one Resource metric, cpu at 80% average utilization;
- a ``behavior`` that is given has each unset part filled: scale up with no
  stabilization, policies Pods 4 and Percent 100 per 15 s, select Max;
  scale down with a 300 s stabilization window, Percent 100 per 15 s, Max.
  An unset ``behavior`` stays unset: the controller then applies its older
  rules (``controllers.podautoscaler_behavior``).

autoscaling/v1 objects are defaulted through their v2 form (``strategy``).
"""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.api.objects import Obj

DEFAULT_CPU_UTILIZATION = 80
DEFAULT_MIN_REPLICAS = 1
SCALE_UP_RULES: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
SCALE_DOWN_RULES: Obj = {
    "stabilizationWindowSeconds": 300,
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def cpu_metric(utilization: Any) -> Obj:
    """The v2 form of v1's ``targetCPUUtilizationPercentage``."""
    return {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": utilization},
        },
    }


def default_v2(obj: Obj) -> Obj:
    """A defaulted copy of a v2 HorizontalPodAutoscaler."""
    out = copy.deepcopy(obj)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = DEFAULT_MIN_REPLICAS
    if not spec.get("metrics"):
        spec["metrics"] = [cpu_metric(DEFAULT_CPU_UTILIZATION)]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key, rules in (("scaleUp", SCALE_UP_RULES), ("scaleDown", SCALE_DOWN_RULES)):
            behavior[key] = fill_rules(behavior.get(key), rules)
    return out


def fill_rules(given: Any, defaults: Obj) -> Any:
    """``given`` scaling rules with each unset field taken from ``defaults``."""
    if given is None:
        return copy.deepcopy(defaults)
    if not isinstance(given, dict):
        return given  # validation names it
    out = dict(given)
    for key, value in defaults.items():
        if out.get(key) is None:
            out[key] = copy.deepcopy(value)
    return out

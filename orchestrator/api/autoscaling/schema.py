"""The known structure of HorizontalPodAutoscaler in autoscaling/v1 and v2.

Statuses are written by the controller and kept free-form (``OBJECT``), as
for the other built-in kinds; the specs are closed so that
``fieldValidation=Strict`` names an unknown field.
"""

from __future__ import annotations

from orchestrator.api.schema_kinds import LABEL_SELECTOR, OBJECT_META
from orchestrator.api.schema_types import INTEGER, OBJECT, QUANTITY, STRING, ListOf, struct

S, INT = STRING, INTEGER

CROSS_VERSION_REF = struct(kind=S, name=S, apiVersion=S)

V1_SPEC = struct(
    scaleTargetRef=CROSS_VERSION_REF,
    minReplicas=INT,
    maxReplicas=INT,
    targetCPUUtilizationPercentage=INT,
)

METRIC_TARGET = struct(type=S, value=QUANTITY, averageValue=QUANTITY, averageUtilization=INT)
METRIC_IDENTIFIER = struct(name=S, selector=LABEL_SELECTOR)
METRIC_SPEC = struct(
    type=S,
    resource=struct(name=S, target=METRIC_TARGET),
    containerResource=struct(name=S, container=S, target=METRIC_TARGET),
    pods=struct(metric=METRIC_IDENTIFIER, target=METRIC_TARGET),
    object=struct(
        describedObject=CROSS_VERSION_REF, metric=METRIC_IDENTIFIER, target=METRIC_TARGET
    ),
    external=struct(metric=METRIC_IDENTIFIER, target=METRIC_TARGET),
)
SCALING_RULES = struct(
    stabilizationWindowSeconds=INT,
    selectPolicy=S,
    policies=ListOf(struct(type=S, value=INT, periodSeconds=INT)),
    tolerance=QUANTITY,
)
V2_SPEC = struct(
    scaleTargetRef=CROSS_VERSION_REF,
    minReplicas=INT,
    maxReplicas=INT,
    metrics=ListOf(METRIC_SPEC),
    behavior=struct(scaleUp=SCALING_RULES, scaleDown=SCALING_RULES),
)

V1 = struct(apiVersion=S, kind=S, metadata=OBJECT_META, spec=V1_SPEC, status=OBJECT)
V2 = struct(apiVersion=S, kind=S, metadata=OBJECT_META, spec=V2_SPEC, status=OBJECT)

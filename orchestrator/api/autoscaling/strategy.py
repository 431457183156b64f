"""The API server's ``KindStrategy`` for HorizontalPodAutoscaler, one per served version.

v2 is stored as it is written. v1 is a view: ``for_storage`` converts a v1
body to v2 and ``for_read`` converts the stored object back, so watches and
reads of v1 get v1 objects (``reads_as_stored`` False). Defaults and
validation run on the v2 form in both versions, as Kubernetes runs them on
its internal version: a v1 object gets v1's implicit cpu 80% target, and a
v1 ``targetCPUUtilizationPercentage`` of 0 is reported at
``spec.metrics[0].resource.target.averageUtilization``, Kubernetes' path.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.api.autoscaling import schema
from orchestrator.api.autoscaling.columns import HPA_COLUMNS
from orchestrator.api.autoscaling.conversion import V1, to_v1, to_v2
from orchestrator.api.autoscaling.defaults import default_v2
from orchestrator.api.autoscaling.validation import validate_hpa
from orchestrator.api.objects import Obj
from orchestrator.api.schema_types import walk_schema
from orchestrator.api.selectors import supported_field
from orchestrator.api.tables import build_table
from orchestrator.api.validation import EXPECTED_TYPES, Cause, validate_metadata
from orchestrator.api.validation_causes import invalid

KIND = "HorizontalPodAutoscaler"


@dataclass(frozen=True)
class HPAStrategy:
    version: str  # "v1" or "v2"
    strategic_merge: bool = True
    scale: None = None

    @property
    def reads_as_stored(self) -> bool:
        return self.version == "v2"

    def _is_v1(self, obj: Obj) -> bool:
        return self.version == "v1" and obj.get("apiVersion", V1) == V1

    def unknown_fields(self, obj: Obj) -> list[str]:
        root = schema.V1 if self.version == "v1" else schema.V2
        return [path for path, problem in walk_schema(root, obj, "") if problem is None]

    def default(self, obj: Obj) -> Obj:
        if self._is_v1(obj):
            return to_v1(default_v2(to_v2(obj)))
        return default_v2(obj)

    def validate(self, obj: Obj, *, namespaced: bool, old: Obj | None = None) -> list[Cause]:
        root = schema.V1 if self.version == "v1" else schema.V2
        type_causes = [
            invalid(
                p.path, p.value, f"{p.path} must be {EXPECTED_TYPES.get(p.expected, p.expected)}"
            )
            for _, p in walk_schema(root, obj, "")
            if p is not None
        ]
        causes = validate_metadata("", obj.get("metadata"), namespaced=namespaced)
        blamed = {c.field for c in type_causes}
        if type_causes:
            return causes + type_causes
        body = to_v2(obj) if self._is_v1(obj) else obj
        return causes + [c for c in validate_hpa(body) if c.field not in blamed]

    def for_read(self, obj: Obj) -> Obj:
        return to_v1(obj) if self.version == "v1" else obj

    def for_storage(self, obj: Obj) -> Obj:
        return to_v2(obj) if self._is_v1(obj) else obj

    def table(
        self,
        objects: Sequence[Obj],
        *,
        now: datetime,
        include_object: str,
        resource_version: str,
        continue_token: str = "",
    ) -> dict[str, Any]:
        return build_table(
            KIND,
            list(objects),
            now=now,
            include_object=include_object,
            resource_version=resource_version,
            continue_token=continue_token,
            column_sets={KIND: HPA_COLUMNS},
        )

    def selectable_field(self, field: str) -> bool:
        return supported_field(KIND, field)


@functools.cache
def hpa_strategy(version: str) -> HPAStrategy:
    return HPAStrategy(version)

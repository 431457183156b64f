"""How a custom resource is written and read: one strategy per served version.

The write path of reference section 3, in order: the request's body is pruned
by the request version's schema (what was dropped is the ``unknown field``
warning, or 400 under Strict), defaulted, then validated (ObjectMeta, the
schema, list types, then the CEL rules unless an earlier error makes them
meaningless). The stored form is the storage version (``conversion: None``:
the apiVersion is rewritten and the object pruned by the storage schema).
Every read prunes and defaults again, by the version asked for, so a default
added to the schema later shows on objects stored before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.api import openapi
from orchestrator.api.copying import copy_json
from orchestrator.api.objects import Obj
from orchestrator.api.openapi.cel import CompiledRules
from orchestrator.api.printercolumns import custom_table
from orchestrator.api.strategy import ScalePaths
from orchestrator.api.validation import validate_metadata, validate_update
from orchestrator.api.validation_causes import Cause, invalid

_ALWAYS_SELECTABLE = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class CustomStrategy:
    group: str
    version: str
    kind: str
    storage_version: str
    schema: dict[str, Any] = field(repr=False)
    storage_schema: dict[str, Any] = field(repr=False)
    rules: CompiledRules = field(repr=False)
    columns: tuple[dict[str, Any], ...] = ()
    scale: ScalePaths | None = None
    selectable: frozenset[str] = frozenset()
    strategic_merge: bool = False
    reads_as_stored: bool = False
    # the schemas compiled for the per-request walks (openapi.plan), once per strategy
    plan: openapi.Node = field(init=False, repr=False, compare=False)
    storage_plan: openapi.Node = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plan = openapi.plan_of(self.schema)
        storage_plan = (
            plan if self.storage_schema is self.schema else openapi.plan_of(self.storage_schema)
        )
        object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "storage_plan", storage_plan)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def unknown_fields(self, obj: Obj) -> list[str]:
        return openapi.prune(obj, self.plan)

    def default(self, obj: Obj) -> Obj:
        openapi.apply_defaults(obj, self.plan)
        return obj

    def validate(self, obj: Obj, *, namespaced: bool, old: Obj | None = None) -> list[Cause]:
        causes: list[Cause] = []
        if obj.get("kind") != self.kind:
            causes.append(invalid("kind", obj.get("kind"), f"must be {self.kind}"))
        if obj.get("apiVersion") != self.api_version:
            causes.append(
                invalid("apiVersion", obj.get("apiVersion"), f"must be {self.api_version}")
            )
        causes += validate_metadata("", obj.get("metadata"), namespaced=namespaced)
        if old is not None:
            causes += validate_update("", old, obj)
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        schema_causes = openapi.validate(body, self.plan)
        causes += schema_causes
        if self.rules:
            if openapi.blocks_cel(schema_causes):
                causes.append(
                    Cause(
                        "",
                        "FieldValueInvalid",
                        "some validation rules were not checked because the object was invalid; "
                        "correct the existing errors to complete validation",
                    )
                )
            else:
                causes += self.rules.evaluate(obj, old)
        return causes

    def for_read(self, obj: Obj) -> Obj:
        if obj.get("apiVersion") != self.api_version:
            obj = {**obj, "apiVersion": self.api_version}
        openapi.read_form(obj, self.plan)
        return obj

    def for_storage(self, obj: Obj) -> Obj:
        if self.version == self.storage_version:
            return obj
        stored = copy_json(obj)
        stored["apiVersion"] = f"{self.group}/{self.storage_version}"
        openapi.prune(stored, self.storage_plan)
        return stored

    def table(
        self,
        objects: Sequence[Obj],
        *,
        now: datetime,
        include_object: str,
        resource_version: str,
        continue_token: str = "",
    ) -> dict[str, Any]:
        return custom_table(
            list(self.columns),
            list(objects),
            now=now,
            include_object=include_object,
            resource_version=resource_version,
            continue_token=continue_token,
        )

    def selectable_field(self, field: str) -> bool:
        return field in _ALWAYS_SELECTABLE or field in self.selectable

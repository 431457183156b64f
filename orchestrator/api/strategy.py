"""What one kind does differently: the per-kind behaviour of the API server.

Every kind the server serves has a ``KindStrategy``, found through its
``ResourceType`` (``strategy_of``), so built-in and custom kinds are looked up
the same way, by (group, kind) and never by the bare kind name: a
``serving.knative.dev`` ``Service`` gets its own strategy, not the core
Service's defaults, validation, columns or strategic-merge rules.

Built-in kinds get ``BuiltinStrategy``, a thin face over the tables of
``defaults``, ``validation``, ``schema``, ``tables`` and ``selectors``, which
stay keyed by the kind's name inside their own group. Custom kinds get the
strategy the CRD catalogue builds from the CRD's version (schema, pruning,
defaulting, CEL, printer columns, scale paths). The write path in the
registry calls these methods in Kubernetes' order; none of them does I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from orchestrator.api.autoscaling.strategy import hpa_strategy
from orchestrator.api.defaults import apply_defaults
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType
from orchestrator.api.schema import find_unknown_fields
from orchestrator.api.selectors import format_label_selector, supported_field
from orchestrator.api.tables import build_table
from orchestrator.api.validation import Cause, validate, validate_update


@dataclass(frozen=True)
class ScalePaths:
    """Where a kind keeps what its ``scale`` subresource shows (simple dot paths)."""

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str = ""  # custom kinds: where the selector string is ("" = none)
    # Built-ins render the label selector object at .spec.selector and read a missing
    # replicas field as 0; custom kinds answer errors for a missing spec field, as Kubernetes.
    builtin: bool = True


class KindStrategy(Protocol):
    """The per-kind steps of a write and a read; all pure."""

    @property
    def strategic_merge(self) -> bool:
        """Whether strategic merge patches are accepted (415 otherwise, as for custom kinds)."""
        ...

    @property
    def scale(self) -> ScalePaths | None: ...

    def unknown_fields(self, obj: Obj) -> list[str]:
        """Dotted paths of fields the kind does not know; a custom kind drops them (prunes)."""
        ...

    def default(self, obj: Obj) -> Obj:
        """The object with the kind's defaults filled (may be a new dict)."""
        ...

    def validate(self, obj: Obj, *, namespaced: bool, old: Obj | None = None) -> list[Cause]:
        """Every problem with ``obj``; with ``old`` (an update) also what may not change."""
        ...

    @property
    def reads_as_stored(self) -> bool:
        """True when ``for_read`` is the identity: watches then send the stored bytes."""
        ...

    def for_read(self, obj: Obj) -> Obj:
        """The stored object as the client's version shows it (identity for built-ins)."""
        ...

    def for_storage(self, obj: Obj) -> Obj:
        """The object as it is stored (the storage version; identity for built-ins)."""
        ...

    def table(
        self,
        objects: Sequence[Obj],
        *,
        now: datetime,
        include_object: str,
        resource_version: str,
        continue_token: str = "",
    ) -> dict[str, Any]: ...

    def selectable_field(self, field: str) -> bool: ...


@dataclass(frozen=True)
class BuiltinStrategy:
    """A kind compiled into the server: ``Pod``, ``Deployment.apps``..."""

    qualified_kind: str  # "Pod", "Deployment.apps": what the kind tables are keyed by
    scale: ScalePaths | None = None
    strategic_merge: bool = True
    reads_as_stored: bool = True

    @property
    def kind(self) -> str:
        return self.qualified_kind.partition(".")[0]

    def unknown_fields(self, obj: Obj) -> list[str]:
        return find_unknown_fields(self.qualified_kind, obj)

    def default(self, obj: Obj) -> Obj:
        return apply_defaults(self.qualified_kind, obj)

    def validate(self, obj: Obj, *, namespaced: bool, old: Obj | None = None) -> list[Cause]:
        causes = validate(self.qualified_kind, obj, namespaced=namespaced)
        if old is not None:
            causes += validate_update(self.qualified_kind, old, obj)
        return causes

    def for_read(self, obj: Obj) -> Obj:
        return obj

    def for_storage(self, obj: Obj) -> Obj:
        return obj

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
            self.kind,
            list(objects),
            now=now,
            include_object=include_object,
            resource_version=resource_version,
            continue_token=continue_token,
        )

    def selectable_field(self, field: str) -> bool:
        return supported_field(self.kind, field)


@functools.cache
def builtin_strategy(group: str, kind: str, *, scalable: bool = False) -> BuiltinStrategy:
    qualified = f"{kind}.{group}" if group else kind
    return BuiltinStrategy(qualified, scale=ScalePaths() if scalable else None)


def strategy_of(rt: ResourceType) -> KindStrategy:
    """The behaviour of ``rt``'s kind: its own, or the built-in one of (group, kind)."""
    if rt.strategy is not None:
        return rt.strategy
    if rt.group == "autoscaling" and rt.kind == "HorizontalPodAutoscaler":
        return hpa_strategy(rt.version)
    return builtin_strategy(rt.group, rt.kind, scalable="scale" in rt.subresources)


def scale_selector(obj: Obj, paths: ScalePaths) -> str:
    """The ``status.selector`` string of a Scale: built-ins render their selector object."""
    if not paths.builtin:
        value = read_path(obj, paths.label_selector) if paths.label_selector else None
        return value if isinstance(value, str) else ""
    selector = (obj.get("spec") or {}).get("selector") or {}
    return format_label_selector(selector) if isinstance(selector, dict) else ""


def read_path(obj: Any, path: str) -> Any:
    """The value at a simple dot path (``.spec.replicas``), None where it is missing."""
    for part in path.strip(".").split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def write_path(obj: Obj, path: str, value: Any) -> None:
    """Set the value at a simple dot path, creating the objects on the way."""
    parts = path.strip(".").split(".")
    for part in parts[:-1]:
        child = obj.get(part)
        if not isinstance(child, dict):
            child = obj[part] = {}
        obj = child
    obj[parts[-1]] = value

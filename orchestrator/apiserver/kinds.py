"""The built-in kinds as this server serves them: with the strategies that live here.

Most built-in kinds behave as ``orchestrator.api.strategy`` says. The kinds
that configure the API server itself (CustomResourceDefinition, the webhook
configurations) have their defaults and rules in the API server's own
packages; this module puts them on their ResourceTypes, once, at start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceTypes
from orchestrator.api.strategy import BuiltinStrategy, builtin_strategy
from orchestrator.api.validation import Cause, validate_metadata, validate_update
from orchestrator.apiserver.admission.configuration import (
    default_configuration,
    validate_configuration,
)
from orchestrator.apiserver.crds.definition import (
    default_definition,
    validate_definition,
    validate_definition_update,
)


@dataclass(frozen=True)
class ServerKindStrategy:
    """A built-in kind whose defaults and validation are the API server's own."""

    builtin: BuiltinStrategy
    fill: Callable[[Obj], Obj]
    check: Callable[[Obj], list[Cause]]
    check_update: Callable[[Obj, Obj], list[Cause]] | None = None
    strategic_merge: bool = True  # kubectl apply of these manifests sends strategic merge
    scale: None = None
    reads_as_stored: bool = True

    def unknown_fields(self, obj: Obj) -> list[str]:
        return []

    def default(self, obj: Obj) -> Obj:
        return self.fill(obj)

    def validate(self, obj: Obj, *, namespaced: bool, old: Obj | None = None) -> list[Cause]:
        causes = self.check(obj)
        if old is not None:
            if self.check_update is not None:
                causes += self.check_update(old, obj)
            else:
                causes += validate_update(self.builtin.qualified_kind, old, obj)
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
        return self.builtin.table(
            objects,
            now=now,
            include_object=include_object,
            resource_version=resource_version,
            continue_token=continue_token,
        )

    def selectable_field(self, field: str) -> bool:
        return self.builtin.selectable_field(field)


def _configuration(mutating: bool) -> ServerKindStrategy:
    kind = "MutatingWebhookConfiguration" if mutating else "ValidatingWebhookConfiguration"

    def check(obj: Obj) -> list[Cause]:
        meta = validate_metadata("", obj.get("metadata"), namespaced=False)
        return meta + validate_configuration(obj, mutating=mutating)

    return ServerKindStrategy(
        builtin_strategy("admissionregistration.k8s.io", kind),
        fill=lambda obj: default_configuration(obj, mutating=mutating),
        check=check,
    )


_SERVER_STRATEGIES = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ServerKindStrategy(
        builtin_strategy("apiextensions.k8s.io", "CustomResourceDefinition"),
        fill=default_definition,
        check=validate_definition,
        check_update=validate_definition_update,
    ),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _configuration(True),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _configuration(False),
}


def served_types(types: ResourceTypes) -> ResourceTypes:
    """``types`` with the server-side strategies attached to the kinds that have one."""
    return ResourceTypes(
        tuple(
            dataclasses.replace(rt, strategy=_SERVER_STRATEGIES[(rt.group, rt.kind)])
            if (rt.group, rt.kind) in _SERVER_STRATEGIES and rt.strategy is None
            else rt
            for rt in types
        )
    )

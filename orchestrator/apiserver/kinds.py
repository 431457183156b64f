"""The built-in kinds as this server serves them: with the strategies that live here.

Most built-in kinds behave as ``orchestrator.api.strategy`` says. The kinds
that configure the API server itself (CustomResourceDefinition, the webhook
configurations) have their defaults and rules in the API server's own
packages; this module puts them on their ResourceTypes, once, at start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceTypes
from orchestrator.api.strategy import BuiltinStrategy
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


@dataclass(frozen=True, kw_only=True)
class ServerKindStrategy(BuiltinStrategy):
    """A built-in kind whose defaults and validation are the API server's own.

    Tables, field selectors and reads are the built-in ones; only what a write
    checks and fills comes from the API server's packages.
    """

    fill: Callable[[Obj], Obj]
    check: Callable[[Obj], list[Cause]]
    check_update: Callable[[Obj, Obj], list[Cause]] | None = None

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
                causes += validate_update(self.qualified_kind, old, obj)
        return causes


def _configuration(mutating: bool) -> ServerKindStrategy:
    kind = "MutatingWebhookConfiguration" if mutating else "ValidatingWebhookConfiguration"

    def check(obj: Obj) -> list[Cause]:
        meta = validate_metadata("", obj.get("metadata"), namespaced=False)
        return meta + validate_configuration(obj, mutating=mutating)

    return ServerKindStrategy(
        qualified_kind=f"{kind}.admissionregistration.k8s.io",
        fill=lambda obj: default_configuration(obj, mutating=mutating),
        check=check,
    )


_SERVER_STRATEGIES = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ServerKindStrategy(
        qualified_kind="CustomResourceDefinition.apiextensions.k8s.io",
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

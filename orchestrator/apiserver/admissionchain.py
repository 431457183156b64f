"""Admission as a chain: the built-in plugins, then the webhooks.

Kubernetes runs its compiled-in admission plugins (ServiceAccount,
NodeRestriction, PodSecurity) around the webhooks: mutating plugins first,
then mutating webhooks; validating plugins, then validating webhooks. Each
plugin is an ``AdmissionHook`` (``registry.py``) that says whether it has
work (``enabled``); a chain with nothing enabled lets writes skip admission
entirely, as before. A plugin refuses a write by raising an ``APIError``
(403 Forbidden in Kubernetes' words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType
from orchestrator.apiserver.registry import AdmissionHook, AdmissionRequest


class AdmissionChain:
    def __init__(self, hooks: Sequence[AdmissionHook]) -> None:
        self.hooks = list(hooks)

    @property
    def enabled(self) -> bool:
        return any(hook.enabled for hook in self.hooks)

    def wants(self, rt: ResourceType) -> bool:
        """Whether any enabled hook looks at writes of ``rt`` (hooks without ``wants``: all)."""
        return any(_wants(hook, rt) for hook in self.hooks)

    async def mutate(self, request: AdmissionRequest) -> tuple[Obj | None, list[str]]:
        warnings: list[str] = []
        obj = request.obj
        for hook in self.hooks:
            if not _wants(hook, request.rt):
                continue
            mutated, said = await hook.mutate(request)
            warnings += said
            if mutated is not None and mutated is not obj:
                obj = mutated
                request = replace(request, obj=obj)
        return obj, warnings

    async def validate(self, request: AdmissionRequest) -> list[str]:
        warnings: list[str] = []
        for hook in self.hooks:
            if _wants(hook, request.rt):
                warnings += await hook.validate(request)
        return warnings


def _wants(hook: AdmissionHook, rt: ResourceType) -> bool:
    if not hook.enabled:
        return False
    wants = getattr(hook, "wants", None)
    return wants is None or bool(wants(rt))

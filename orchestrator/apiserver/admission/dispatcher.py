"""Calling the webhooks of the current configurations for one write.

The API server calls ``mutate`` after its built-in defaulting and before
validation, and ``validate`` after validation and before storing (§10.4):

- **mutating** webhooks run one after another, configurations sorted by
  name and webhooks in list order; each sees the object as the previous one
  left it, and its JSONPatch is applied at once. Reinvocation is a single
  second round, as in Kubernetes: when a webhook changed the object, the
  ``reinvocationPolicy: IfNeeded`` webhooks called *before* that change are
  called once more, in order (a webhook's own change does not re-call it).
  Round two re-runs no built-in admission (the API server's defaulting
  after ``mutate`` covers the object either way).
- **validating** webhooks run concurrently; the dispatcher waits for all,
  and the first error to arrive is raised.

What reaches the client (messages in ``failures``): a denial with the
webhook's code; a call failure as a 500 under ``failurePolicy: Fail``,
while under ``Ignore`` it is logged and the write goes on; a dry run
through a webhook whose ``sideEffects`` are not None/NoneOnDryRun is a 400.
Warnings from every webhook called are returned in call order for the
``Warning`` headers. Audit annotations are ignored (there is no audit log).

Parsed webhooks are cached per configuration ``(name, uid, resourceVersion)``
so a write does not re-read unchanged configurations; a configuration
without a resourceVersion (tests) is parsed on every call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from orchestrator.api import errors
from orchestrator.apiserver import deadline
from orchestrator.apiserver.admission import failures, matching
from orchestrator.apiserver.admission.attributes import Attributes
from orchestrator.apiserver.admission.caller import ServiceResolver, WebhookCaller, endpoint_for
from orchestrator.apiserver.admission.configuration import (
    DEFAULT_TIMEOUT_SECONDS,
    NO_SIDE_EFFECTS,
    default_configuration,
)
from orchestrator.apiserver.admission.review import (
    build_review,
    new_uid,
    parse_response,
    patched_object,
)

log = logging.getLogger(__name__)

ConfigSource = Callable[[], tuple[list[dict[str, Any]], list[dict[str, Any]]]]
NamespaceLabels = Callable[[str], Awaitable[dict[str, str] | None]]


@dataclass(frozen=True)
class Webhook:
    """One webhook of a configuration, defaulted."""

    configuration: str
    name: str
    spec: Mapping[str, Any]  # the webhook's defaulted dict, read by ``matching``

    @property
    def ignores_failures(self) -> bool:
        return self.spec.get("failurePolicy") == "Ignore"

    @property
    def timeout_seconds(self) -> int:
        return int(self.spec.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)

    @property
    def reinvoke_if_needed(self) -> bool:
        return self.spec.get("reinvocationPolicy") == "IfNeeded"

    @property
    def dry_run_safe(self) -> bool:
        return self.spec.get("sideEffects") in NO_SIDE_EFFECTS


class WebhookDispatcher:
    """Finds the webhooks a request matches and calls them (see the module docstring)."""

    def __init__(
        self,
        configs: ConfigSource,
        resolve_service: ServiceResolver,
        namespace_labels: NamespaceLabels,
        *,
        caller: WebhookCaller | None = None,
    ) -> None:
        self._configs = configs
        self._resolve = resolve_service
        self._namespace_labels = namespace_labels
        self._caller = caller or WebhookCaller()
        self._parsed: dict[tuple[bool, str, str, str], list[Webhook]] = {}

    async def aclose(self) -> None:
        """Close the pooled connections to webhooks."""
        await self._caller.aclose()

    # -- mutating ------------------------------------------------------------

    async def mutate(self, attrs: Attributes) -> tuple[dict[str, Any] | None, list[str]]:
        """Run the matching mutating webhooks; the object they leave, and their warnings."""
        warnings: list[str] = []
        hooks = self._webhooks(mutating=True)
        if not hooks or matching.is_exempt(attrs):
            return attrs.object, warnings
        labels = _LabelCache(self._namespace_labels)
        obj = attrs.object
        called_reinvocable: list[int] = []  # IfNeeded webhooks called since the last change
        reinvoke: set[int] = set()
        for index, hook in enumerate(hooks):
            current = replace(attrs, object=obj)
            if not await self._applies(hook, current, labels):
                continue
            patched = await self._call_mutating(hook, current, warnings)
            if patched is not None and patched != obj:
                obj = patched
                reinvoke.update(called_reinvocable)
                called_reinvocable.clear()
            if hook.reinvoke_if_needed:
                called_reinvocable.append(index)
        for index in sorted(reinvoke):
            current = replace(attrs, object=obj)
            if not await self._applies(hooks[index], current, labels):
                continue
            patched = await self._call_mutating(hooks[index], current, warnings)
            if patched is not None:
                obj = patched
        return obj, warnings

    async def _call_mutating(
        self, hook: Webhook, attrs: Attributes, warnings: list[str]
    ) -> dict[str, Any] | None:
        try:
            response = await self._call(hook, attrs, mutating=True)
            warnings.extend(response.warnings)
            if not response.allowed:
                raise failures.denied(hook.name, response.result)
            return patched_object(hook.name, attrs.object, response)
        except failures.CallFailure as failure:
            self._on_failure(hook, failure)
            return None

    # -- validating ----------------------------------------------------------

    async def validate(self, attrs: Attributes) -> list[str]:
        """Run the matching validating webhooks at once; their warnings, or the first error."""
        hooks = self._webhooks(mutating=False)
        if not hooks or matching.is_exempt(attrs):
            return []
        labels = _LabelCache(self._namespace_labels)
        chosen = [hook for hook in hooks if await self._applies(hook, attrs, labels)]
        if not chosen:
            return []
        arrived: list[BaseException] = []
        results: list[tuple[str, ...]] = [() for _ in chosen]

        async def run(i: int, hook: Webhook) -> None:
            try:
                results[i] = await self._call_validating(hook, attrs)
            except errors.APIError as exc:
                arrived.append(exc)

        await asyncio.gather(*(run(i, hook) for i, hook in enumerate(chosen)))
        if arrived:
            raise arrived[0]
        return [warning for result in results for warning in result]

    async def _call_validating(self, hook: Webhook, attrs: Attributes) -> tuple[str, ...]:
        try:
            response = await self._call(hook, attrs, mutating=False)
        except failures.CallFailure as failure:
            self._on_failure(hook, failure)
            return ()
        if not response.allowed:
            raise failures.denied(hook.name, response.result)
        return response.warnings

    # -- shared --------------------------------------------------------------

    async def _call(self, hook: Webhook, attrs: Attributes, *, mutating: bool) -> Any:
        if attrs.dry_run and not hook.dry_run_safe:
            raise failures.dry_run_unsupported(hook.name)
        endpoint = await endpoint_for(hook.spec.get("clientConfig") or {}, self._resolve)
        uid = new_uid()
        timeout: float = hook.timeout_seconds
        left = deadline.remaining()  # the request's own deadline comes first (deadline.py)
        if left is not None and left < timeout:
            timeout = left
        body = await self._caller.post(endpoint, build_review(attrs, uid), timeout)
        return parse_response(body, uid, mutating=mutating)

    def _on_failure(self, hook: Webhook, failure: failures.CallFailure) -> None:
        if not hook.ignores_failures:
            log.warning("Failed calling webhook, failing closed %s: %s", hook.name, failure.reason)
            raise failures.call_failed(hook.name, failure)
        log.warning("Failed calling webhook, failing open %s: %s", hook.name, failure.reason)

    async def _applies(self, hook: Webhook, attrs: Attributes, labels: _LabelCache) -> bool:
        if not matching.rules_match(hook.spec, attrs):
            return False
        if not matching.object_selector_matches(hook.spec, attrs):
            return False
        namespace = matching.namespace_labels_needed(hook.spec, attrs)
        stored = await labels.get(namespace) if namespace is not None else None
        return matching.namespace_selector_matches(hook.spec, attrs, stored)

    def _webhooks(self, *, mutating: bool) -> list[Webhook]:
        mutating_configs, validating_configs = self._configs()
        configs = mutating_configs if mutating else validating_configs
        hooks: list[Webhook] = []
        for config in sorted(configs, key=_config_name):
            hooks += self._parse(config, mutating=mutating)
        return hooks

    def _parse(self, config: dict[str, Any], *, mutating: bool) -> list[Webhook]:
        meta = config.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "")
        key = (mutating, _config_name(config), str(meta.get("uid") or ""), version)
        if version and key in self._parsed:
            return self._parsed[key]
        defaulted = default_configuration(config, mutating=mutating)
        hooks = [
            Webhook(key[1], str(spec.get("name") or ""), spec)
            for spec in defaulted.get("webhooks") or []
            if isinstance(spec, dict)
        ]
        if version:
            if len(self._parsed) > 1024:  # configurations come and go: forget the old ones
                self._parsed.clear()
            self._parsed[key] = hooks
        return hooks


class _LabelCache:
    """A namespace's labels, looked up at most once per request."""

    def __init__(self, lookup: NamespaceLabels) -> None:
        self._lookup = lookup
        self._seen: dict[str, dict[str, str] | None] = {}

    async def get(self, namespace: str) -> dict[str, str] | None:
        if namespace not in self._seen:
            self._seen[namespace] = await self._lookup(namespace)
        return self._seen[namespace]


def _config_name(config: Mapping[str, Any]) -> str:
    return str((config.get("metadata") or {}).get("name") or "")

"""Admission webhooks wired into the API server: configurations, services, the hook.

``Admission`` is what the registry calls on every write (``AdmissionHook``).
It keeps the current Mutating- and ValidatingWebhookConfigurations in memory,
following their keys through the watch hub (so a configuration written on
another API server of the same etcd applies here too, within a watch
round trip), and answers ``enabled`` False while there are none: a cluster
without webhooks pays one attribute read per write.

A webhook named by Service is reached the way Kubernetes does with
aggregator routing: a ready endpoint of the Service, on the target port of
the service port the webhook names; the Service's cluster IP only when it
has no endpoints object. Endpoints work from the API server on every
network mode, cluster IPs only where the node's proxy routes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.apiserver.admission.attributes import Attributes, UserInfo
from orchestrator.apiserver.admission.dispatcher import WebhookDispatcher
from orchestrator.apiserver.registry import AdmissionRequest, Registry
from orchestrator.apiserver.watchcache import Change, WatchHub
from orchestrator.store.base import StoreError

log = logging.getLogger(__name__)

_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class Admission:
    def __init__(self, registry: Registry, hub: WatchHub, types: ResourceTypes) -> None:
        self.registry = registry
        self.hub = hub
        self._mutating_rt = types.require(
            "admissionregistration.k8s.io", "MutatingWebhookConfiguration"
        )
        self._validating_rt = types.require(
            "admissionregistration.k8s.io", "ValidatingWebhookConfiguration"
        )
        self._services = types.require("", "Service")
        self._endpoints = types.require("", "Endpoints")
        self._namespaces = types.require("", "Namespace")
        self._mutating: dict[str, Obj] = {}
        self._validating: dict[str, Obj] = {}
        # (group, plural) -> whether any configured rule names it; cleared on every change
        self._wanted: dict[tuple[str, str], bool] = {}
        self.dispatcher = WebhookDispatcher(
            self._configs, self._resolve_service, self._namespace_labels
        )

    # -- the hook the registry calls ---------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return bool(self._mutating or self._validating)

    def wants(self, rt: ResourceType) -> bool:
        """Whether a rule of some configuration names ``rt``'s group and resource.

        A coarse filter, checked before any webhook is matched: writes of other kinds skip
        admission (and its second defaulting) as if no webhook were configured. Operations,
        versions, scope and selectors are the dispatcher's (``matching``) to decide.
        """
        key = (rt.group, rt.plural)
        wanted = self._wanted.get(key)
        if wanted is None:
            wanted = self._wanted[key] = any(
                _names(rule, rt)
                for config in (*self._mutating.values(), *self._validating.values())
                for hook in _as_list(config.get("webhooks"))
                for rule in _as_list(hook.get("rules") if isinstance(hook, dict) else None)
            )
        return wanted

    async def mutate(self, request: AdmissionRequest) -> tuple[Obj | None, list[str]]:
        return await self.dispatcher.mutate(_attributes(request))

    async def validate(self, request: AdmissionRequest) -> list[str]:
        return await self.dispatcher.validate(_attributes(request))

    # -- configurations ---------------------------------------------------------------------

    def in_effect(self) -> dict[str, str]:
        """``kind/name`` -> resourceVersion of each configuration writes are checked against."""
        return {
            f"{kind}/{name}": str(config.get("metadata", {}).get("resourceVersion", ""))
            for kind, held in (
                ("MutatingWebhookConfiguration", self._mutating),
                ("ValidatingWebhookConfiguration", self._validating),
            )
            for name, config in held.items()
        }

    def _configs(self) -> tuple[list[Obj], list[Obj]]:
        return list(self._mutating.values()), list(self._validating.values())

    async def load(self) -> int:
        """Read every configuration; returns the revision to follow changes from."""
        revision = 0
        for rt, into in (
            (self._mutating_rt, self._mutating),
            (self._validating_rt, self._validating),
        ):
            items, rev, _ = await self.registry.list(rt, "")
            into.clear()
            into.update({item["metadata"]["name"]: item for item in items})
            self._wanted.clear()
            revision = max(revision, rev)
        return revision

    async def _reload(self) -> int:
        """``load``, retried while the store does not answer (the server stays up meanwhile)."""
        while True:
            try:
                return await self.load()
            except (errors.APIError, StoreError, OSError):
                log.warning("cannot read the webhook configurations; retrying", exc_info=True)
                await asyncio.sleep(0.5)

    async def run(self) -> None:
        """Follow the configurations until cancelled."""
        revision = await self.load()
        prefix = "/registry/admissionregistration.k8s.io/"
        try:
            while True:
                try:
                    async for change in self.hub.changes(prefix, revision):
                        if isinstance(change, Change):  # no Progress without progress_every
                            revision = change.revision
                            self._apply(change.key, change.type, change.obj)
                except asyncio.CancelledError:
                    raise
                except Exception:  # dropped or compacted: read everything again
                    log.info("webhook configurations re-read after a broken watch")
                    revision = await self._reload()
        finally:
            await self.dispatcher.aclose()

    def _apply(self, key: str, event: str, obj: Obj) -> None:
        into = self._mutating if "/mutatingwebhookconfigurations/" in key else self._validating
        name = key.rsplit("/", 1)[-1]
        if event == "DELETE":
            into.pop(name, None)
        else:
            into[name] = obj
        self._wanted.clear()

    # -- what the dispatcher asks ------------------------------------------------------------

    async def _namespace_labels(self, name: str) -> dict[str, str] | None:
        try:
            namespace = await self.registry.get(self._namespaces, "", name)
        except errors.NotFound:
            return None
        return dict((namespace.get("metadata") or {}).get("labels") or {})

    async def _resolve_service(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        service = await self.registry.get(self._services, namespace, name)
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return str(spec.get("externalName", "")), port
        service_port = next(
            (p for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("port") == port),
            None,
        )
        if service_port is None:
            raise errors.ServiceUnavailable(f'service "{namespace}/{name}" has no port {port}')
        with contextlib.suppress(errors.NotFound):
            endpoints = await self.registry.get(self._endpoints, namespace, name)
            found = _endpoint(endpoints, service_port)
            if found is not None:
                return found
        cluster_ip = spec.get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            raise errors.ServiceUnavailable(f'service "{namespace}/{name}" has no endpoints')
        return str(cluster_ip), port


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _names(rule: Any, rt: ResourceType) -> bool:
    """Whether ``rule`` could match writes of ``rt`` (anything unreadable: yes)."""
    if not isinstance(rule, dict):
        return True
    groups, resources = rule.get("apiGroups"), rule.get("resources")
    if not isinstance(groups, list) or not isinstance(resources, list):
        return True
    if "*" not in groups and rt.group not in groups:
        return False
    return any(not isinstance(r, str) or r.split("/", 1)[0] in ("*", rt.plural) for r in resources)


def _endpoint(endpoints: Obj, service_port: dict[str, Any]) -> tuple[str, int] | None:
    """A ready address of the Endpoints, on the port matching the service port's name."""
    wanted = service_port.get("name") or ""
    for subset in endpoints.get("subsets") or []:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        match = next((p for p in ports if (p.get("name") or "") == wanted), None)
        if match is None and len(ports) == 1:
            match = ports[0]
        if addresses and match is not None:
            return str(addresses[0]["ip"]), int(match["port"])
    return None


def _attributes(request: AdmissionRequest) -> Attributes:
    rt, opts = request.rt, request.opts
    options: dict[str, Any] = {
        "apiVersion": "meta.k8s.io/v1",
        "kind": _OPTIONS_KIND.get(request.operation, "CreateOptions"),
    }
    if opts.field_manager and request.operation != "DELETE":
        options["fieldManager"] = opts.field_manager
    if opts.dry_run:
        options["dryRun"] = ["All"]
    return Attributes(
        operation=request.operation,  # type: ignore[arg-type]
        group=rt.group,
        version=rt.version,
        resource=rt.plural,
        kind=rt.kind,
        name=request.name,
        namespace=request.namespace if rt.namespaced else "",
        namespaced=rt.namespaced,
        subresource=request.subresource,
        dry_run=opts.dry_run,
        options=options,
        user=UserInfo(username=opts.user or "system:apiserver", groups=opts.groups),
        object=request.obj,
        old_object=request.old,
    )

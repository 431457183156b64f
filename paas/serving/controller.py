"""The serving controllers: Service, Configuration, Revision and Route loops over informers.

Each loop has its own queue and a ``reconcile(key)`` that reads the caches,
asks ``plan`` for the step and writes it (sample-controller shape, as the
App controller):

- Service: its Configuration and Route (created, or replaced keeping what
  others wrote), then its status; events of the children it controls
  enqueue it.
- Configuration: the Revision of its current generation when missing, then
  its status (latest created and ready); Revision events enqueue the owner.
- Revision: its Deployment (created once, with the initial scale; never
  rewritten: its scale belongs to the autoscaler) and its ClusterIP Service
  (created, or corrected), then its status from the Deployment and pods.
  Events of objects labelled ``serving.knative.dev/revision`` enqueue it.
- Route: its HTTPRoutes (no informer: the kind is the router's, and may not
  be served yet; then IngressReady stays Unknown and the Route is retried)
  and its status. A Configuration or Revision event enqueues every Route of
  its namespace: few, and a Route may name either.

Status is written through the status subresource with the cached
resourceVersion (a compare-and-swap), only when it changed;
``lastTransitionTime`` moves only with a condition's status. Errors
re-queue with backoff; objects still settling are re-queued after
``resync``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orchestrator.api import errors
from orchestrator.api.conditions import Condition
from orchestrator.api.resources import ResourceType
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, split_key
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import enqueue_controller, enqueue_self, process_queue
from orchestrator.controllers.ownership import controller_uid
from paas.serving import names
from paas.serving.conditions import cond, stamped
from paas.serving.kinds import (
    CONFIGURATIONS,
    DEPLOYMENTS,
    HTTPROUTES,
    K8S_SERVICES,
    PODS,
    REVISION_LABEL,
    REVISIONS,
    ROUTE_LABEL,
    ROUTES,
    SERVICES,
)
from paas.serving.plan import (
    plan_configuration,
    plan_revision,
    plan_route,
    plan_service,
    route_status,
)
from paas.serving.resources import make_deployment, make_revision_service
from paas.serving.settings import ServingSettings
from router.backends import MAX_REQUESTS_ANNOTATION

log = logging.getLogger(__name__)
Obj = dict[str, Any]
SERVER_OWNED = {"Service": ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy")}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merged(current: Obj, wanted: Obj) -> Obj:
    """``current`` rewritten to ``wanted``: our labels, annotations, owners and spec."""
    out = copy.deepcopy(current)
    meta, want = out["metadata"], wanted["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **want.get("labels", {})}
    meta["annotations"] = {**(meta.get("annotations") or {}), **want.get("annotations", {})}
    meta["ownerReferences"] = want["ownerReferences"]
    spec = copy.deepcopy(wanted["spec"])
    for key in SERVER_OWNED.get(wanted["kind"], ()):
        if key in (current.get("spec") or {}):
            spec[key] = current["spec"][key]
    out["spec"] = spec
    return out


def _without_stamps(status: Obj) -> Obj:
    out = dict(status)
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in status.get("conditions") or []
    ]
    return out


class _Loop:
    """What the four loops share: a queue, status writes, create-or-replace."""

    name = "serving"

    def __init__(self, ctx: ControllerContext, settings: ServingSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.queue = WorkQueue(ctx.backoff, name="serving-controller")

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    async def reconcile(self, key: str) -> float | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def enqueue_by(self, keys_of: Callable[[Obj], list[str]]) -> Handler:
        def add(obj: Obj) -> None:
            for key in keys_of(obj):
                self.queue.add(key)

        def update(old: Obj, new: Obj) -> None:
            add(old)  # a label that changed: the object it left hears of it too
            add(new)

        return Handler(on_add=add, on_update=update, on_delete=add)

    async def write_status(self, rt: ResourceType, obj: Obj, wanted: Obj) -> None:
        current = obj.get("status") or {}
        wanted = {
            **wanted,
            "conditions": stamped(current.get("conditions"), wanted["conditions"], now()),
        }
        if _without_stamps(current) == _without_stamps(wanted):
            return
        body = {**obj, "status": wanted}
        try:
            await self.ctx.client.replace(
                rt, body, obj["metadata"]["namespace"], subresource="status"
            )
        except errors.NotFound:
            pass  # deleted meanwhile

    async def create_or_replace(self, rt: ResourceType, wanted: Obj, current: Obj | None) -> None:
        ns, name = wanted["metadata"]["namespace"], wanted["metadata"]["name"]
        if current is None:
            log.info("creating %s %s/%s", wanted["kind"], ns, name)
            try:
                await self.ctx.client.create(rt, wanted, ns)
            except errors.AlreadyExists as exc:  # the cache is behind: plan again
                raise errors.Conflict(f"{wanted['kind']} {name} exists") from exc
            return
        log.info("updating %s %s/%s", wanted["kind"], ns, name)
        await self.ctx.client.replace(rt, merged(current, wanted), ns)


class ServiceReconciler(_Loop):
    name = "serving-service"

    def __init__(self, ctx: ControllerContext, settings: ServingSettings) -> None:
        super().__init__(ctx, settings)
        self.services = ctx.informers.informer(SERVICES)
        self.services.add_handler(enqueue_self(self.queue))
        self.configurations = ctx.informers.informer(CONFIGURATIONS)
        self.configurations.add_handler(enqueue_controller(self.queue, "Service"))
        self.routes = ctx.informers.informer(ROUTES)
        self.routes.add_handler(enqueue_controller(self.queue, "Service"))

    async def reconcile(self, key: str) -> float | None:
        service = self.services.get(key)
        if service is None or service["metadata"].get("deletionTimestamp"):
            return None  # the garbage collector removes what it owned
        configuration, route = self.configurations.get(key), self.routes.get(key)
        plan = plan_service(service, configuration, route)
        if plan.configuration is not None:
            await self.create_or_replace(CONFIGURATIONS, plan.configuration, configuration)
        if plan.route is not None:
            await self.create_or_replace(ROUTES, plan.route, route)
        await self.write_status(SERVICES, service, plan.status)
        return None


class ConfigurationReconciler(_Loop):
    name = "serving-configuration"

    def __init__(self, ctx: ControllerContext, settings: ServingSettings) -> None:
        super().__init__(ctx, settings)
        self.configurations = ctx.informers.informer(CONFIGURATIONS)
        self.configurations.add_handler(enqueue_self(self.queue))
        self.revisions = ctx.informers.informer(REVISIONS)
        self.revisions.add_index("controller", controller_uid)
        self.revisions.add_handler(enqueue_controller(self.queue, "Configuration"))

    async def reconcile(self, key: str) -> float | None:
        configuration = self.configurations.get(key)
        if configuration is None or configuration["metadata"].get("deletionTimestamp"):
            return None
        owned = self.revisions.by_index("controller", configuration["metadata"]["uid"])
        namespace = configuration["metadata"]["namespace"]
        template = (configuration.get("spec") or {}).get("template") or {}
        wanted = (template.get("metadata") or {}).get("name") or names.revision_name(
            configuration["metadata"]["name"], int(configuration["metadata"].get("generation", 1))
        )
        taken = self.revisions.get_by_name(namespace, wanted)
        plan = plan_configuration(configuration, owned, taken)
        if plan.create is not None:
            log.info("creating Revision %s/%s", namespace, plan.create["metadata"]["name"])
            try:
                await self.ctx.client.create(REVISIONS, plan.create, namespace)
            except errors.AlreadyExists as exc:
                raise errors.Conflict(f"Revision {wanted} exists") from exc
        await self.write_status(CONFIGURATIONS, configuration, plan.status)
        return None


def _revision_of(obj: Obj) -> list[str]:
    revision = ((obj.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL)
    return [f"{obj['metadata'].get('namespace', '')}/{revision}"] if revision else []


class RevisionReconciler(_Loop):
    name = "serving-revision"

    def __init__(self, ctx: ControllerContext, settings: ServingSettings) -> None:
        super().__init__(ctx, settings)
        self.revisions = ctx.informers.informer(REVISIONS)
        self.revisions.add_handler(enqueue_self(self.queue))
        self.owned = {}
        for kind, rt in (("Deployment", DEPLOYMENTS), ("Service", K8S_SERVICES), ("Pod", PODS)):
            informer = ctx.informers.informer(rt, label_selector=REVISION_LABEL)
            informer.add_index("revision", _revision_of)
            informer.add_handler(self.enqueue_by(_revision_of))
            self.owned[kind] = informer

    def _controlled(self, kind: str, key: str, uid: str) -> Obj | None:
        for obj in self.owned[kind].by_index("revision", key):
            if controller_uid(obj, "Revision") == [uid]:
                return obj
        return None

    async def reconcile(self, key: str) -> float | None:
        revision = self.revisions.get(key)
        if revision is None or revision["metadata"].get("deletionTimestamp"):
            return None
        uid = revision["metadata"]["uid"]
        deployment = self._controlled("Deployment", key, uid)
        if deployment is None:
            await self.create_or_replace(
                DEPLOYMENTS, make_deployment(revision, self.settings), None
            )
        service = self._controlled("Service", key, uid)
        wanted = make_revision_service(revision)
        if (
            service is None
            or any(
                (service.get("spec") or {}).get(k) != wanted["spec"][k]
                for k in ("selector", "ports")
            )
            or _cap(service) != _cap(wanted)
        ):
            await self.create_or_replace(K8S_SERVICES, wanted, service)
        pods = [p for p in self.owned["Pod"].by_index("revision", key)]
        plan = plan_revision(revision, deployment, pods)
        await self.write_status(REVISIONS, revision, plan.status)
        ready = plan.status["conditions"]
        settled = all(c.get("status") != "Unknown" for c in ready)
        return None if settled else self.settings.resync


class RouteReconciler(_Loop):
    name = "serving-route"

    def __init__(self, ctx: ControllerContext, settings: ServingSettings) -> None:
        super().__init__(ctx, settings)
        self.routes = ctx.informers.informer(ROUTES)
        self.routes.add_handler(enqueue_self(self.queue))
        self.configurations = ctx.informers.informer(CONFIGURATIONS)
        self.configurations.add_handler(self.enqueue_by(self._routes_near))
        self.revisions = ctx.informers.informer(REVISIONS)
        self.revisions.add_handler(self.enqueue_by(self._routes_near))

    def _routes_near(self, obj: Obj) -> list[str]:
        namespace = obj["metadata"].get("namespace", "")
        return [f"{namespace}/{r['metadata']['name']}" for r in self.routes.list(namespace)]

    async def reconcile(self, key: str) -> float | None:
        route = self.routes.get(key)
        if route is None or route["metadata"].get("deletionTimestamp"):
            return None
        namespace, _ = split_key(key)
        configurations = {c["metadata"]["name"]: c for c in self.configurations.list(namespace)}
        revisions = {r["metadata"]["name"]: r for r in self.revisions.list(namespace)}
        plan = plan_route(route, configurations, revisions, self.settings)
        ingress: Condition = cond(
            "IngressReady",
            "Unknown",
            "IngressNotConfigured",
            "Ingress has not yet been reconciled.",
        )
        requeue: float | None = None
        if plan.traffic is not None:
            try:
                await self._write_httproutes(route, plan.httproutes)
                ingress = cond("IngressReady", "True")
            except errors.NotFound:
                log.info("HTTPRoutes are not served yet: route %s waits for the router's CRD", key)
                requeue = self.settings.resync
        elif (route.get("status") or {}).get("traffic"):
            ingress = cond("IngressReady", "True")  # the last assigned traffic still serves
        await self.write_status(ROUTES, route, route_status(route, plan, ingress, self.settings))
        return requeue

    async def _write_httproutes(self, route: Obj, wanted: list[Obj]) -> None:
        meta = route["metadata"]
        listed = await self.ctx.client.list(
            HTTPROUTES, meta["namespace"], label_selector=f"{ROUTE_LABEL}={meta['name']}"
        )
        current = {
            o["metadata"]["name"]: o
            for o in listed.get("items") or []
            if controller_uid(o, "Route") == [meta["uid"]]
        }
        for obj in wanted:
            have = current.pop(obj["metadata"]["name"], None)
            if have is not None and have.get("spec") == obj["spec"]:
                continue
            await self.create_or_replace(HTTPROUTES, obj, have)
        for name in current:
            log.info("deleting HTTPRoute %s/%s: its tag is gone", meta["namespace"], name)
            try:
                await self.ctx.client.delete(HTTPROUTES, name, meta["namespace"])
            except errors.NotFound:
                pass


def serving_controllers(ctx: ControllerContext, settings: ServingSettings) -> list[_Loop]:
    """The four loops, sharing the context's informers."""
    return [
        ServiceReconciler(ctx, settings),
        ConfigurationReconciler(ctx, settings),
        RevisionReconciler(ctx, settings),
        RouteReconciler(ctx, settings),
    ]


def _cap(service: Obj) -> object:
    """The router's per-pod cap on a revision's Service (older Services lack it)."""
    return (service["metadata"].get("annotations") or {}).get(MAX_REQUESTS_ANNOTATION)

"""The App controller loop: informers enqueue App keys, workers carry out ``plan_app``.

Every event of an App, of its Builds, or of an object labelled
``paas.dev/app`` (Knative Services, their Revisions and the revisions'
Deployments, which carry the template's labels; release Jobs; config
Secrets; and the first version's Deployments, Services and Ingresses)
enqueues ``<namespace>/<app>``. A worker reads the App and its objects
from the caches (only objects the App controls: a user's own object that
happens to carry the label is never touched; Revisions and their
Deployments are read, never written), lists the App's HTTPRoutes from the
API (the kind is the router's and may not be served yet, so no informer
waits on it), asks ``plan.plan_app`` for one step and writes it in this
order:

1. release Jobs, Knative Services and HTTPRoutes: created, or replaced
   (the cached resourceVersion makes it a compare-and-swap);
2. each Build's ``Deployed`` condition (the builder's pre-receive waits on
   it to finish the push);
3. deletions: the objects of branches that are gone, a moved branch's
   first-version Ingress, Service and Deployment, release Jobs nothing
   points at any more;
4. the App's status, when it changed.

Errors re-queue the key with backoff (``run_workers``); while a branch is
still deploying the key is also re-queued after ``resync`` as a guard
against a missed event, and after ``route_poll`` while a branch waits for
the router to accept its HTTPRoute. Each write is idempotent, so a
restarted controller converges to the same objects.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from builder.kinds import APP_LABEL, APPS, BUILDS, DEPLOYED
from orchestrator.api import errors
from orchestrator.api.conditions import Condition, find_condition, set_condition
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, Informer
from orchestrator.client.workqueue import WorkQueue
from orchestrator.controllers.base import enqueue_self, process_queue
from orchestrator.controllers.ownership import controller_uid
from paas.apps.plan import Actual, plan_app
from paas.apps.settings import AppControllerSettings
from paas.apps.views import AppView, BuildView
from paas.serving.kinds import HTTPROUTES, REVISION_LABEL, REVISIONS
from paas.serving.kinds import SERVICES as KNATIVE_SERVICES

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_rt = BUILTIN_TYPES.require
# What the plan names by these keys ("KService": a Knative Service, "Service": a core one)
KINDS: dict[str, ResourceType] = {
    "KService": KNATIVE_SERVICES,
    "HTTPRoute": HTTPROUTES,
    "Deployment": _rt("apps", "Deployment"),
    "Service": _rt("", "Service"),
    "Ingress": _rt("networking.k8s.io", "Ingress"),
    "Job": _rt("batch", "Job"),
}
SECRETS = _rt("", "Secret")
BY_APP = "paas-app"


def kind_key(obj: Mapping[str, Any]) -> str:
    """The ``KINDS`` key of an object the plan wants written."""
    if str(obj.get("apiVersion", "")).startswith(KNATIVE_SERVICES.group + "/"):
        return "KService"
    return str(obj["kind"])


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def app_of_labelled(obj: Obj) -> list[str]:
    app = ((obj.get("metadata") or {}).get("labels") or {}).get(APP_LABEL)
    return [f"{obj['metadata'].get('namespace', '')}/{app}"] if app else []


def app_of_build(obj: Obj) -> list[str]:
    app = (obj.get("spec") or {}).get("app")
    return [f"{obj['metadata'].get('namespace', '')}/{app}"] if app else []


def merged(current: Mapping[str, Any], wanted: Obj) -> Obj:
    """``current`` rewritten to ``wanted``: our labels, annotations, owners and spec."""
    out = copy.deepcopy(dict(current))
    meta, want = out["metadata"], wanted["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **want["labels"]}
    meta["annotations"] = {**(meta.get("annotations") or {}), **want["annotations"]}
    meta["ownerReferences"] = want["ownerReferences"]
    out["spec"] = copy.deepcopy(wanted["spec"])
    return out


class AppController:
    name = "app"

    def __init__(self, ctx: ControllerContext, settings: AppControllerSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.queue = WorkQueue(ctx.backoff, name="app-controller")
        informers = ctx.informers
        self.apps = informers.informer(APPS)
        self.apps.add_handler(enqueue_self(self.queue))
        self.builds = informers.informer(BUILDS)
        self.builds.add_index(BY_APP, app_of_build)
        self.builds.add_handler(self._enqueue(app_of_build))
        self.owned: dict[str, Informer] = {}
        watched = [(k, rt) for k, rt in KINDS.items() if k != "HTTPRoute"]
        for kind, rt in [*watched, ("Revision", REVISIONS), ("Secret", SECRETS)]:
            informer = informers.informer(rt, label_selector=APP_LABEL)
            informer.add_index(BY_APP, app_of_labelled)
            informer.add_handler(self._enqueue(app_of_labelled))
            self.owned[kind] = informer

    def _enqueue(self, keys_of: Any) -> Handler:
        def add(obj: Obj) -> None:
            for key in keys_of(obj):
                self.queue.add(key)

        def update(old: Obj, new: Obj) -> None:
            add(old)  # a label that changed: the App it left hears of it too
            add(new)

        return Handler(on_add=add, on_update=update, on_delete=add)

    async def run(self) -> None:
        await process_queue(self.ctx, self.queue, self.reconcile, self.name)

    def _controlled(self, kind: str, key: str, uid: str) -> dict[str, Obj]:
        return {
            o["metadata"]["name"]: o
            for o in self.owned[kind].by_index(BY_APP, key)
            if controller_uid(o, "App") == [uid]
        }

    async def reconcile(self, key: str) -> float | None:
        app_obj = self.apps.get(key)
        if app_obj is None or app_obj["metadata"].get("deletionTimestamp"):
            return None  # the garbage collector removes what it owned
        app = AppView.of(app_obj)
        namespace = app.namespace
        builds = {b["metadata"]["name"]: b for b in self.builds.by_index(BY_APP, key)}
        routes, served = await self._httproutes(namespace, app)
        actual = Actual(
            kservices=self._controlled("KService", key, app.uid),
            httproutes=routes,
            routes_served=served,
            revisions={
                o["metadata"]["name"]: o for o in self.owned["Revision"].by_index(BY_APP, key)
            },
            revision_deployments=self._revision_deployments(key),
            jobs=self._controlled("Job", key, app.uid),
            secrets={o["metadata"]["name"]: o for o in self.owned["Secret"].by_index(BY_APP, key)},
            deployments=self._controlled("Deployment", key, app.uid),
            services=self._controlled("Service", key, app.uid),
            ingresses=self._controlled("Ingress", key, app.uid),
        )
        plan = plan_app(app, [BuildView.of(b) for b in builds.values()], actual, self.settings)
        existing = {
            "KService": actual.kservices,
            "HTTPRoute": actual.httproutes,
            "Job": actual.jobs,
        }
        for obj in plan.apply:
            kind = kind_key(obj)
            await self._apply(kind, obj, existing[kind].get(obj["metadata"]["name"]))
        for name, condition in plan.conditions:
            if name in builds:
                await self._set_deployed(builds[name], condition)
        for kind, name in plan.deletions:
            log.info("deleting %s %s/%s", kind, namespace, name)
            try:  # a Job's pods go with it (the API's default for Jobs is to orphan them)
                await self.ctx.client.delete(
                    KINDS[kind], name, namespace, propagation_policy="Background"
                )
            except errors.NotFound:
                pass
        await self._write_status(app_obj, plan.status)
        if plan.awaits_router:
            return self.settings.route_poll
        return None if plan.settled else self.settings.resync

    async def _httproutes(self, namespace: str, app: AppView) -> tuple[dict[str, Obj], bool]:
        """The App's HTTPRoutes, and whether the API serves the kind at all."""
        try:
            listed = await self.ctx.client.list(
                HTTPROUTES, namespace, label_selector=f"{APP_LABEL}={app.name}"
            )
        except errors.NotFound:
            return {}, False
        return {
            o["metadata"]["name"]: o
            for o in listed.get("items") or []
            if controller_uid(o, "App") == [app.uid]
        }, True

    def _revision_deployments(self, key: str) -> dict[str, Obj]:
        """The App's revisions' Deployments (the serving controller's), by revision name."""
        out = {}
        for o in self.owned["Deployment"].by_index(BY_APP, key):
            revision = ((o.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL)
            if revision and controller_uid(o, "Revision"):
                out[str(revision)] = o
        return out

    async def _apply(self, kind: str, wanted: Obj, current: Obj | None) -> None:
        rt, ns = KINDS[kind], wanted["metadata"]["namespace"]
        name = wanted["metadata"]["name"]
        if current is None:
            log.info("creating %s %s/%s", kind, ns, name)
            try:
                await self.ctx.client.create(rt, wanted, ns)
            except errors.AlreadyExists as exc:  # the cache is behind: plan again
                raise errors.Conflict(f"{kind} {name} exists") from exc
            return
        log.info("updating %s %s/%s", kind, ns, name)
        await self.ctx.client.replace(rt, merged(current, wanted), ns)

    async def _set_deployed(self, build: Obj, wanted: Condition) -> None:
        meta = build["metadata"]
        current = find_condition((build.get("status") or {}).get("conditions"), DEPLOYED)
        stamped: Condition = {**wanted, "lastTransitionTime": now()}
        if current is not None and current.get("status") == wanted.get("status"):
            stamped["lastTransitionTime"] = current.get("lastTransitionTime") or now()
        conditions = set_condition((build.get("status") or {}).get("conditions"), stamped)
        log.info(
            "build %s/%s: %s=%s %s: %s",
            meta["namespace"],
            meta["name"],
            DEPLOYED,
            wanted["status"],
            wanted.get("reason"),
            wanted.get("message"),
        )
        try:
            await self.ctx.client.patch(
                BUILDS,
                meta["name"],
                {
                    "metadata": {"resourceVersion": meta["resourceVersion"]},
                    "status": {"conditions": conditions},
                },
                meta["namespace"],
                subresource="status",
            )
        except errors.NotFound:
            pass  # deleted meanwhile (its branch or App went)

    async def _write_status(self, app: Obj, wanted: Obj) -> None:
        status = dict(app.get("status") or {})
        conditions = status.get("conditions") or []
        for c in wanted["conditions"]:
            current = find_condition(conditions, c["type"])
            stamp = now()
            if current is not None and current.get("status") == c["status"]:
                stamp = str(current.get("lastTransitionTime") or stamp)
            c["lastTransitionTime"] = stamp
        if all(status.get(k) == v for k, v in wanted.items()):
            return
        meta = app["metadata"]
        await self.ctx.client.patch(
            APPS,
            meta["name"],
            {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": wanted},
            meta["namespace"],
            subresource="status",
        )

"""The App controller's loop against a real API server, with the serving controller (webhook
and loops), the Deployment and ReplicaSet controllers and ``support.podready`` standing in
for scheduler and node, all in this event loop.

A Build that succeeds becomes a Knative Service and an HTTPRoute for the branch's host,
owned by the App; the Build's ``Deployed`` condition follows the revision; a release Job
runs first and its failure keeps the old version; a revision that never gets ready fails
the deploy and the template goes back to the live build; the objects of a branch whose
Builds are gone are deleted; a branch deployed by the builder's first version keeps its
Deployment, Service and Ingress until the router accepts its HTTPRoute.

No router runs here: the router sets ``Accepted`` on HTTPRoutes, so the move test writes
that status itself. When the API serves no HTTPRoute kind yet (the router's CRD), a
placeholder definition stands in for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.controlplane import ControlPlane, controllers
from support.podready import pods_become_ready
from support.wait import eventually_async

from builder.kinds import APPS, BUILDS, DEPLOYED, RELEASE_ANNOTATION
from orchestrator.api import errors
from orchestrator.api.conditions import condition_of
from orchestrator.client.rest import APIClient
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.replicaset import ReplicaSetController
from paas.apps.controller import KINDS, AppController
from paas.apps.settings import AppControllerSettings
from paas.serving.controller import (
    ConfigurationReconciler,
    RevisionReconciler,
    RouteReconciler,
    ServiceReconciler,
)
from paas.serving.settings import ServingSettings
from paas.serving.webhookserver import ServingWebhook, WebhookSettings
from paas.up.definitions import install_definitions, platform_definitions

SLUG_1 = "slug:sha256:" + "1" * 64
SLUG_2 = "slug:sha256:" + "2" * 64
BROKEN = "slug:sha256:" + "e" * 64
NS = "default"


async def prepare(api: RunningAPI) -> None:
    async with APIClient(api.client_config()) as client:
        await install_definitions(client, platform_definitions())  # the router's HTTPRoute too


class CountingAppController(AppController):
    """The App controller, counting the passes it finished (to wait for "n more passes")."""

    passes = 0

    async def reconcile(self, key: str) -> float | None:
        try:
            return await super().reconcile(key)
        finally:
            self.passes += 1

    async def more_passes(self, n: int, timeout: float = 10) -> None:
        target = self.passes + n

        async def done() -> bool:
            return self.passes >= target

        await eventually_async(done, timeout, f"{n} more passes of the App controller")


@contextlib.asynccontextmanager
async def platform(api: RunningAPI, **settings: Any) -> AsyncIterator[ControlPlane]:
    s = AppControllerSettings(**settings)
    serving = ServingSettings(domain=s.domain, http_port=s.http_port)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(pods_become_ready(api, never_ready=frozenset({BROKEN})))
        cp = await stack.enter_async_context(
            controllers(
                api,
                lambda ctx: ReplicaSetController(ctx),
                lambda ctx: DeploymentController(ctx),
                lambda ctx: ServingWebhook(ctx, WebhookSettings()),
                lambda ctx: ServiceReconciler(ctx, serving),
                lambda ctx: ConfigurationReconciler(ctx, serving),
                lambda ctx: RevisionReconciler(ctx, serving),
                lambda ctx: RouteReconciler(ctx, serving),
                lambda ctx: CountingAppController(ctx, s),
            )
        )
        webhook = cp.controllers[2]
        assert isinstance(webhook, ServingWebhook)
        await asyncio.wait_for(webhook.ready.wait(), 20)
        yield cp


async def make_app(cp: ControlPlane, name: str = "shop") -> dict[str, Any]:
    body = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": name}, "spec": {}}
    return await cp.client.create(APPS, body, NS)


def owned_by(app: dict[str, Any], branch: str) -> dict[str, Any]:
    return {
        "labels": {"paas.dev/app": "shop", "paas.dev/branch": branch},
        "ownerReferences": [
            {
                "apiVersion": "paas.dev/v1",
                "kind": "App",
                "name": "shop",
                "uid": app["metadata"]["uid"],
                "controller": True,
            }
        ],
    }


async def succeed(
    cp: ControlPlane,
    app: dict[str, Any],
    name: str,
    result: str,
    *,
    branch: str = "main",
    release: str = "",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **owned_by(app, branch)}
    if release:
        meta["annotations"] = {RELEASE_ANNOTATION: release}
    body = {
        "apiVersion": "paas.dev/v1",
        "kind": "Build",
        "metadata": meta,
        "spec": {"app": "shop", "branch": branch, "commit": name[-1] * 40},
    }
    await cp.client.create(BUILDS, body, NS)
    status = {"status": {"phase": "Succeeded", "result": result}}
    return await cp.client.patch(BUILDS, name, status, NS, subresource="status")


async def deployed(cp: ControlPlane, name: str) -> tuple[str, str, str] | None:
    build = await cp.client.get(BUILDS, name, NS)
    c = condition_of(build, DEPLOYED)
    if c is None or c.get("status") == "Unknown":
        return None
    return (str(c["status"]), str(c.get("reason")), str(c.get("message")))


async def template_image(cp: ControlPlane, name: str = "shop-main") -> str:
    ksvc = await cp.client.get(KINDS["KService"], name, NS)
    return str(ksvc["spec"]["template"]["spec"]["containers"][0]["image"])


async def routed_to(cp: ControlPlane, name: str = "shop-main-app") -> list[tuple[str, int]]:
    try:
        route = await cp.client.get(KINDS["HTTPRoute"], name, NS)
    except errors.NotFound:
        return []
    refs = route["spec"]["rules"][0]["backendRefs"]
    return [(r["name"], r["weight"]) for r in refs]


@pytest.fixture
async def cp(sqlite_api: RunningAPI) -> AsyncIterator[ControlPlane]:
    await prepare(sqlite_api)
    async with platform(sqlite_api, progress_deadline=2, route_poll=0.2) as running:
        yield running


async def test_a_succeeded_build_is_deployed_and_the_app_lists_its_url(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    done = await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    assert done[:2] == ("True", "Available")
    for kind, name in (("KService", "shop-main"), ("HTTPRoute", "shop-main-app")):
        obj = await cp.client.get(KINDS[kind], name, NS)
        [owner] = obj["metadata"]["ownerReferences"]
        assert owner["uid"] == app["metadata"]["uid"] and owner["controller"] is True
    route = await cp.client.get(KINDS["HTTPRoute"], "shop-main-app", NS)
    assert route["spec"]["hostnames"] == ["shop.localhost"]
    assert await routed_to(cp) == [("shop-main-00001", 100)]
    ksvc = await cp.client.get(KINDS["KService"], "shop-main", NS)
    assert (
        ksvc["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"]
        == "1"
    )
    # Knative's own host is routed by the serving controller, to the same revision
    knative = await cp.client.get(KINDS["HTTPRoute"], "shop-main", NS)
    assert knative["spec"]["hostnames"] == ["shop-main.default.localhost"]

    async def listed() -> dict[str, Any] | None:
        status = (await cp.client.get(APPS, "shop", NS)).get("status") or {}
        branches = status.get("branches") or []
        return status if branches and branches[0].get("instances") == 1 else None

    status = await eventually_async(listed, 10)
    assert status["url"] == "http://shop.localhost:8080/"
    [branch] = status["branches"]
    assert (branch["name"], branch["build"], branch["commit"], branch["phase"]) == (
        "main",
        "shop-main-1111111",
        "1" * 40,
        "Live",
    )


async def test_a_second_build_moves_the_route_to_its_revision(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    await succeed(cp, app, "shop-main-2222222", SLUG_2)
    done = await eventually_async(lambda: deployed(cp, "shop-main-2222222"), 20)
    assert done[:2] == ("True", "Available")
    assert await routed_to(cp) == [("shop-main-00002", 100)]


async def job_of(cp: ControlPlane) -> dict[str, Any] | None:
    jobs = (await cp.client.list(KINDS["Job"], NS))["items"]
    return jobs[0] if jobs else None


async def test_a_failed_release_keeps_the_live_version(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    await succeed(cp, app, "shop-main-2222222", SLUG_2, release="./migrate")
    created = await eventually_async(lambda: job_of(cp), 10)
    assert created["spec"]["template"]["spec"]["containers"][0]["args"] == ["./migrate"]
    assert await template_image(cp) == SLUG_1  # nothing rolls before the release ends
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
    }
    await cp.client.patch(
        KINDS["Job"],
        created["metadata"]["name"],
        {"status": {"conditions": [failed]}},
        NS,
        subresource="status",
    )
    done = await eventually_async(lambda: deployed(cp, "shop-main-2222222"), 10)
    assert done[:2] == ("False", "ReleaseFailed")
    assert await template_image(cp) == SLUG_1


async def test_a_release_that_completes_lets_the_new_version_roll(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1, release="./migrate")
    created = await eventually_async(lambda: job_of(cp), 10)
    with pytest.raises(errors.NotFound):
        await cp.client.get(KINDS["KService"], "shop-main", NS)
    complete = {"type": "Complete", "status": "True"}
    await cp.client.patch(
        KINDS["Job"],
        created["metadata"]["name"],
        {"status": {"conditions": [complete]}},
        NS,
        subresource="status",
    )
    done = await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    assert done[:2] == ("True", "Available")


async def test_a_revision_that_never_gets_ready_fails_and_goes_back(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    await succeed(cp, app, "shop-main-2222222", BROKEN)
    done = await eventually_async(lambda: deployed(cp, "shop-main-2222222"), 30)
    assert done[:2] == ("False", "ProgressDeadlineExceeded")
    assert await routed_to(cp) == [("shop-main-00001", 100)]  # traffic never left it

    async def back() -> bool:
        return await template_image(cp) == SLUG_1

    await eventually_async(back, 10)
    # the live build's template again: a third revision of it takes the traffic once ready
    moved = await eventually_async(
        lambda: _routed_to_revision(cp, "shop-main-00003"), 20, "traffic on revision 3"
    )
    assert moved
    assert (await deployed(cp, "shop-main-1111111") or ("",))[0] == "True"


async def _routed_to_revision(cp: ControlPlane, revision: str) -> bool:
    return await routed_to(cp) == [(revision, 100)]


async def test_a_branch_without_builds_loses_its_objects(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    await succeed(cp, app, "shop-feature-x-3333333", SLUG_2, branch="feature-x")
    await eventually_async(lambda: deployed(cp, "shop-feature-x-3333333"), 20)
    route = await cp.client.get(KINDS["HTTPRoute"], "shop-feature-x-app", NS)
    assert route["spec"]["hostnames"] == ["feature-x--shop.localhost"]
    preview = await cp.client.get(KINDS["KService"], "shop-feature-x", NS)
    annotations = preview["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == "0"
    await cp.client.delete(BUILDS, "shop-feature-x-3333333", NS)

    async def gone() -> bool:
        for kind, name in (("KService", "shop-feature-x"), ("HTTPRoute", "shop-feature-x-app")):
            try:
                await cp.client.get(KINDS[kind], name, NS)
                return False
            except errors.NotFound:
                continue
        return True

    await eventually_async(gone, 10)
    await cp.client.get(KINDS["KService"], "shop-main", NS)  # the other branch stays


# -- a branch the builder's first version deployed -------------------------------------------


def first_version_objects(app: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """What the first App controller made of build ``shop-main-1111111``."""
    selector = {"paas.dev/app": "shop", "paas.dev/branch": "main"}
    meta = {"name": "shop-main", **owned_by(app, "main")}
    annotations = {"paas.dev/build": "shop-main-1111111", "paas.dev/commit": "1" * 40}
    container = {"name": "web", "image": SLUG_1, "ports": [{"containerPort": 5000}]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector, "annotations": annotations},
                "spec": {"containers": [container]},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 5000}]},
    }
    backend = {"service": {"name": "shop-main", "port": {"number": 80}}}
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta,
        "spec": {
            "ingressClassName": "paas",
            "rules": [
                {
                    "host": "shop.localhost",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }
    return [("Deployment", deployment), ("Service", service), ("Ingress", ingress)]


async def test_a_first_version_branch_keeps_its_objects_until_the_router_accepts_its_route(
    sqlite_api: RunningAPI,
) -> None:
    await prepare(sqlite_api)
    async with APIClient(sqlite_api.client_config()) as client:  # the first version's state
        app = await client.create(
            APPS,
            {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": "shop"}},
            NS,
        )
        for kind, obj in first_version_objects(app):
            await client.create(KINDS[kind], obj, NS)
        build = {
            "apiVersion": "paas.dev/v1",
            "kind": "Build",
            "metadata": {"name": "shop-main-1111111", **owned_by(app, "main")},
            "spec": {"app": "shop", "branch": "main", "commit": "1" * 40},
        }
        await client.create(BUILDS, build, NS)
        deployed_true = {"type": DEPLOYED, "status": "True", "reason": "Available"}
        status = {"phase": "Succeeded", "result": SLUG_1, "conditions": [deployed_true]}
        await client.patch(
            BUILDS, build["metadata"]["name"], {"status": status}, NS, subresource="status"
        )

    async with platform(sqlite_api, progress_deadline=5, route_poll=0.2) as cp:
        routed = await eventually_async(lambda: routed_to(cp), 20, "the branch's HTTPRoute")
        assert routed == [("shop-main-00001", 100)]
        # the router has not accepted the route: the first version's objects still serve,
        # pass after pass (each due route_poll after the last)
        controller = cp.controllers[-1]
        assert isinstance(controller, CountingAppController)
        await controller.more_passes(3)
        for kind in ("Deployment", "Service", "Ingress"):
            await cp.client.get(KINDS[kind], "shop-main", NS)
        build_now = await cp.client.get(BUILDS, "shop-main-1111111", NS)
        assert condition_of(build_now, DEPLOYED)["status"] == "True"  # it served throughout

        # what the router writes once it serves the route
        parent = {
            "parentRef": {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "namespace": "paas-system",
                "name": "paas",
            },
            "controllerName": "paas.dev/router",
            "conditions": [
                {
                    "type": "Accepted",
                    "status": "True",
                    "reason": "Accepted",
                    "message": "Accepted by the paas router",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        }
        await cp.client.patch(
            KINDS["HTTPRoute"],
            "shop-main-app",
            {"status": {"parents": [parent]}},
            NS,
            subresource="status",
        )

        async def retired() -> bool:
            for kind in ("Deployment", "Service", "Ingress"):
                try:
                    await cp.client.get(KINDS[kind], "shop-main", NS)
                    return False
                except errors.NotFound:
                    continue
            return True

        await eventually_async(retired, 10, "the first version's objects to go")
        await cp.client.get(KINDS["KService"], "shop-main", NS)
        assert await routed_to(cp) == [("shop-main-00001", 100)]

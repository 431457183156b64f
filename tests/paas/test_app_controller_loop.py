"""The App controller's loop against a real API server, with the Deployment and
ReplicaSet controllers and ``support.podready`` standing in for scheduler and node.

A Build that succeeds becomes a Deployment, Service and Ingress owned by the
App; the Build's ``Deployed`` condition follows the rollout; a release Job
runs first and its failure keeps the old version; a rollout that makes no
progress fails and the Deployment goes back to the live build; the objects
of a branch whose Builds are gone are deleted.
"""

from __future__ import annotations

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
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.replicaset import ReplicaSetController
from paas.apps.controller import KINDS, AppController
from paas.apps.settings import AppControllerSettings
from paas.up.definitions import install_definitions, platform_definitions

SLUG_1 = "slug:sha256:" + "1" * 64
SLUG_2 = "slug:sha256:" + "2" * 64
BROKEN = "slug:sha256:" + "e" * 64
NS = "default"


@contextlib.asynccontextmanager
async def platform(api: RunningAPI, **settings: Any) -> AsyncIterator[ControlPlane]:
    s = AppControllerSettings(**settings)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(pods_become_ready(api, never_ready=frozenset({BROKEN})))
        cp = await stack.enter_async_context(
            controllers(
                api,
                lambda ctx: ReplicaSetController(ctx),
                lambda ctx: DeploymentController(ctx),
                lambda ctx: AppController(ctx, s),
            )
        )
        yield cp


async def prepare(api: RunningAPI) -> None:
    from orchestrator.client.rest import APIClient

    async with APIClient(api.client_config()) as client:
        await install_definitions(client, platform_definitions())


async def make_app(cp: ControlPlane, name: str = "shop") -> dict[str, Any]:
    body = {"apiVersion": "paas.dev/v1", "kind": "App", "metadata": {"name": name}, "spec": {}}
    return await cp.client.create(APPS, body, NS)


async def succeed(
    cp: ControlPlane,
    app: dict[str, Any],
    name: str,
    result: str,
    *,
    branch: str = "main",
    release: str = "",
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
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


async def image(cp: ControlPlane, name: str = "shop-main") -> str:
    d = await cp.client.get(KINDS["Deployment"], name, NS)
    return str(d["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture
async def cp(sqlite_api: RunningAPI) -> AsyncIterator[ControlPlane]:
    await prepare(sqlite_api)
    async with platform(sqlite_api, progress_deadline=2, prestop_seconds=0) as running:
        yield running


async def test_a_succeeded_build_is_deployed_and_the_app_lists_its_url(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    done = await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    assert done[:2] == ("True", "Available")
    for kind in ("Deployment", "Service", "Ingress"):
        obj = await cp.client.get(KINDS[kind], "shop-main", NS)
        [owner] = obj["metadata"]["ownerReferences"]
        assert owner["uid"] == app["metadata"]["uid"] and owner["controller"] is True

    async def listed() -> dict[str, Any] | None:
        status = (await cp.client.get(APPS, "shop", NS)).get("status") or {}
        return status if status.get("branchCount") == 1 else None

    status = await eventually_async(listed, 10)
    assert status["url"] == "http://shop.localhost:8080/"
    [branch] = status["branches"]
    assert (branch["name"], branch["build"], branch["commit"]) == (
        "main",
        "shop-main-1111111",
        "1" * 40,
    )


async def test_a_failed_release_keeps_the_live_version(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    await succeed(cp, app, "shop-main-2222222", SLUG_2, release="./migrate")

    async def job() -> dict[str, Any] | None:
        jobs = (await cp.client.list(KINDS["Job"], NS))["items"]
        return jobs[0] if jobs else None

    created = await eventually_async(job, 10)
    assert created["spec"]["template"]["spec"]["containers"][0]["args"] == ["./migrate"]
    assert await image(cp) == SLUG_1  # nothing rolls before the release ends
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
    assert await image(cp) == SLUG_1


async def test_a_release_that_completes_lets_the_new_version_roll(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1, release="./migrate")

    async def job() -> dict[str, Any] | None:
        jobs = (await cp.client.list(KINDS["Job"], NS))["items"]
        return jobs[0] if jobs else None

    created = await eventually_async(job, 10)
    with pytest.raises(errors.NotFound):
        await cp.client.get(KINDS["Deployment"], "shop-main", NS)
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


async def test_a_rollout_that_never_gets_ready_fails_and_goes_back(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    await eventually_async(lambda: deployed(cp, "shop-main-1111111"), 20)
    await succeed(cp, app, "shop-main-2222222", BROKEN)
    done = await eventually_async(lambda: deployed(cp, "shop-main-2222222"), 30)
    assert done[:2] == ("False", "ProgressDeadlineExceeded")

    async def back() -> bool:
        return await image(cp) == SLUG_1

    await eventually_async(back, 10)


async def test_a_branch_without_builds_loses_its_objects(cp: ControlPlane) -> None:
    app = await make_app(cp)
    await succeed(cp, app, "shop-main-1111111", SLUG_1)
    await succeed(cp, app, "shop-feature-x-3333333", SLUG_2, branch="feature-x")
    await eventually_async(lambda: deployed(cp, "shop-feature-x-3333333"), 20)
    ingress = await cp.client.get(KINDS["Ingress"], "shop-feature-x", NS)
    assert ingress["spec"]["rules"][0]["host"] == "feature-x--shop.localhost"
    await cp.client.delete(BUILDS, "shop-feature-x-3333333", NS)

    async def gone() -> bool:
        for kind in ("Deployment", "Service", "Ingress"):
            try:
                await cp.client.get(KINDS[kind], "shop-feature-x", NS)
                return False
            except errors.NotFound:
                continue
        return True

    await eventually_async(gone, 10)
    await cp.client.get(KINDS["Deployment"], "shop-main", NS)  # the other branch stays

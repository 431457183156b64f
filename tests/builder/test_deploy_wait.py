"""What a push shows after its build: the Build's ``Deployed`` condition, followed live.

Against a real API server: each change of the condition is one line, the
last one says whether the deploy succeeded; with no App controller holding
its Lease the push succeeds at once saying nothing deployed yet; a deploy
that never ends is failed by the builder (DeployTimeout), so that it will
not go live later.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from support.apiserver import RunningAPI

from builder.deploywait import CONTROLLER_LEASE, LEASES, follow_deploy
from builder.kinds import BUILDS, DEPLOYED
from orchestrator.api.conditions import condition_of
from orchestrator.client.leader import micro_time
from orchestrator.client.rest import APIClient
from paas.up.definitions import install_definitions, platform_definitions

NS = "default"
NAME = "shop-main-1234567"


async def setup(
    client: APIClient,
    *,
    leader: str = "app-controller-1",
    renewed: datetime | None = None,
    duration: int = 60,
) -> None:
    await install_definitions(client, platform_definitions())
    namespace, lease = CONTROLLER_LEASE
    spec: dict[str, Any] = {
        "holderIdentity": leader,
        "leaseDurationSeconds": duration,
        "renewTime": micro_time(renewed or datetime.now(UTC)),
    }
    await client.create(
        LEASES,
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": lease, "namespace": namespace},
            "spec": spec,
        },
        namespace,
    )
    build = {
        "apiVersion": "paas.dev/v1",
        "kind": "Build",
        "metadata": {"name": NAME},
        "spec": {"app": "shop", "branch": "main", "commit": "1" * 40},
    }
    await client.create(BUILDS, build, NS)


async def judge(client: APIClient, status: str, reason: str, message: str) -> None:
    condition = {"type": DEPLOYED, "status": status, "reason": reason, "message": message}
    await client.patch(
        BUILDS, NAME, {"status": {"conditions": [condition]}}, NS, subresource="status"
    )


async def collect(client: APIClient, timeout: float = 10) -> list[Any]:
    return [s async for s in follow_deploy(client, NS, NAME, timeout=timeout)]


async def test_each_change_of_the_deploy_is_a_line_and_the_last_says_it_is_live(
    sqlite_api: RunningAPI,
) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await setup(client)
        steps = []
        following = follow_deploy(client, NS, NAME, timeout=10)
        for status, reason, message in [
            ("Unknown", "Releasing", "running release: ./migrate"),
            ("Unknown", "RollingOut", "0 of 1 new instances ready"),
            ("True", "Available", "1 of 1 instances available"),
        ]:
            await judge(client, status, reason, message)
            steps.append(await asyncio.wait_for(anext(following), 10))  # the line it gave
        assert [s async for s in following] == []  # ended with the last
    assert [s.line for s in steps] == [
        "-----> Release phase: running release: ./migrate",
        "-----> Deploying: 0 of 1 new instances ready",
        "-----> Deployed: 1 of 1 instances available",
    ]
    assert steps[-1].ok is True


async def test_a_failed_deploy_ends_with_its_reason(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await setup(client)
        await judge(client, "False", "StartFailed", "the new version keeps crashing (exit code 3)")
        steps = await collect(client)
    assert [(s.line, s.ok) for s in steps] == [
        (" !     Deploy failed (StartFailed): the new version keeps crashing (exit code 3)", False)
    ]


async def test_without_an_app_controller_the_push_does_not_wait(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await setup(client, leader="")
        steps = await collect(client)
    [step] = steps
    assert step.ok is True and step.live is False
    assert "No App controller is running" in step.line


async def test_a_deploy_that_never_ends_is_failed_by_the_builder(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await setup(client)
        steps = await collect(client, timeout=0.5)
        build = await client.get(BUILDS, NAME, NS)
    assert steps[-1].ok is False
    assert "DeployTimeout" in steps[-1].line
    condition = condition_of(build, DEPLOYED)
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "DeployTimeout")


async def test_a_controller_whose_lease_ran_out_is_not_waited_for(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await setup(client, renewed=datetime.now(UTC) - timedelta(minutes=5), duration=15)
        [step] = await collect(client)
    assert step.ok is True and step.live is False
    assert "No App controller is running" in step.line
    assert "lease was last renewed at" in step.line


async def test_a_controller_that_stops_mid_deploy_ends_the_wait(sqlite_api: RunningAPI) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        await setup(client, duration=1)  # the controller renews once, then is gone
        await judge(client, "Unknown", "RollingOut", "0 of 1 new instances ready")
        steps = [s async for s in follow_deploy(client, NS, NAME, timeout=60, lease_check=0.2)]
    assert [s.line for s in steps[:-1]] == ["-----> Deploying: 0 of 1 new instances ready"]
    assert steps[-1].ok is True and steps[-1].live is False
    assert "lease was last renewed at" in steps[-1].line  # not the deploy's timeout: the lapse

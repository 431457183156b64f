"""Following a Build's deploy from the push: what pre-receive shows after the build.

The builder does not deploy; the App controller (``paas app-controller``)
does, and reports on each Build through its ``Deployed`` condition:
Unknown while it releases and rolls out (reason Releasing or RollingOut,
the message saying what it waits for), True once the new version serves,
False with the reason when the deploy failed (the release command failed,
the new pods crash or cannot start, the rollout made no progress in time)
or a newer build took its place. ``follow_deploy`` watches the one Build
and turns every change of that condition into a line for the pusher,
ending with whether the deploy succeeded.

Two ways a push would otherwise hang are cut short:

- no App controller holds its Lease (``kube-system/paas-app-controller``):
  nothing would ever deploy, so the push says so and succeeds as a build
  (the build deploys once a controller runs);
- nothing ends the deploy within ``timeout``: the Build gets ``Deployed``
  False (DeployTimeout) written by the builder, so that the App controller
  will not put it live later behind the pusher's back, and the push fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from builder.kinds import BUILDS, DEPLOYED
from orchestrator.api import errors
from orchestrator.api.conditions import condition_of, set_condition
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient

LEASES = BUILTIN_TYPES.require("coordination.k8s.io", "Lease")
CONTROLLER_LEASE = ("kube-system", "paas-app-controller")
WATCH_SECONDS = 60  # one watch request; re-read and watched again after it


@dataclass(frozen=True)
class Step:
    line: str
    ok: bool | None = None  # set on the last step: did the deploy succeed
    live: bool = True  # False when the push succeeds with nothing deployed yet


async def controller_running(client: APIClient) -> bool:
    namespace, name = CONTROLLER_LEASE
    try:
        lease = await client.get(LEASES, name, namespace)
    except errors.NotFound:
        return False
    return bool((lease.get("spec") or {}).get("holderIdentity"))


def step_for(build: dict[str, Any]) -> tuple[tuple[str, str, str], Step | None]:
    """The Deployed condition's (status, reason, message) and the line it gives."""
    c = condition_of(build, DEPLOYED) or {}
    status, reason, message = (str(c.get(k) or "") for k in ("status", "reason", "message"))
    seen = (status, reason, message)
    if status == "True":
        return seen, Step(f"-----> Deployed: {message}", ok=True)
    if status == "False":
        return seen, Step(f" !     Deploy failed ({reason}): {message}", ok=False)
    if reason == "Releasing":
        return seen, Step(f"-----> Release phase: {message}")
    if status:
        return seen, Step(f"-----> Deploying: {message}")
    return seen, None


async def fail_build(
    client: APIClient, namespace: str, name: str, reason: str, message: str
) -> None:
    try:
        build = await client.get(BUILDS, name, namespace)
    except errors.NotFound:
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = set_condition(
        (build.get("status") or {}).get("conditions"),
        {
            "type": DEPLOYED,
            "status": "False",
            "reason": reason,
            "message": message,
            "lastTransitionTime": stamp,
        },
    )
    patch = {"status": {"conditions": conditions}}
    await client.patch(BUILDS, name, patch, namespace, subresource="status")


async def follow_deploy(
    client: APIClient, namespace: str, name: str, *, timeout: float
) -> AsyncIterator[Step]:
    """The deploy of Build ``namespace/name`` as lines; the last one has ``ok`` set."""
    if not await controller_running(client):
        yield Step(
            " !     No App controller is running (paas app-controller): this build is kept "
            "and deploys once one runs.",
            ok=True,
            live=False,
        )
        return
    last: list[tuple[str, str, str]] = []

    def changed(obj: dict[str, Any]) -> Step | None:
        seen, step = step_for(obj)
        if step is None or (last and last[-1] == seen):
            return None
        last.append(seen)
        return step

    gone = Step(f" !     Build {name} was deleted during its deploy", ok=False)
    try:
        async with asyncio.timeout(timeout):
            while True:  # read, then watch from there; again when a watch ends quietly
                try:
                    build = await client.get(BUILDS, name, namespace)
                except errors.NotFound:
                    yield gone
                    return
                if (step := changed(build)) is not None:
                    yield step
                    if step.ok is not None:
                        return
                events = client.watch(
                    BUILDS,
                    namespace,
                    resource_version=build["metadata"]["resourceVersion"],
                    field_selector=f"metadata.name={name}",
                    timeout_seconds=WATCH_SECONDS,
                )
                try:
                    async for kind, obj in events:
                        if kind == "DELETED":
                            yield gone
                            return
                        if kind in ("ADDED", "MODIFIED") and (step := changed(obj)) is not None:
                            yield step
                            if step.ok is not None:
                                return
                except errors.Gone:
                    continue  # compacted past our revision: read again
    except TimeoutError:
        message = f"not deployed within {timeout:.0f}s; the build will not go live"
        await fail_build(client, namespace, name, "DeployTimeout", message)
        yield Step(f" !     Deploy failed (DeployTimeout): {message}", ok=False)

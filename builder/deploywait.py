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

While the release phase runs, its output is shown too (``releaselogs``),
each line as the release command prints it, ahead of the outcome.

Two ways a push would otherwise hang are cut short:

- no App controller holds a live Lease (``kube-system/paas-app-controller``,
  renewed within its ``leaseDurationSeconds``): nothing would deploy, so
  the push says so and succeeds as a build (the build deploys once a
  controller runs). The Lease is read again every ``lease_check`` seconds
  while the deploy goes on: a controller that dies mid-deploy ends the
  wait the same way instead of leaving the pusher to the deploy timeout;
- nothing ends the deploy within ``timeout``: the Build gets ``Deployed``
  False (DeployTimeout) written by the builder, so that the App controller
  will not put it live later behind the pusher's back, and the push fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from builder.kinds import BUILDS, DEPLOYED
from builder.releaselogs import release_output
from orchestrator.api import errors
from orchestrator.api.conditions import condition_of, set_condition
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.timestamps import parse_time
from orchestrator.client.rest import APIClient

log = logging.getLogger(__name__)
LEASES = BUILTIN_TYPES.require("coordination.k8s.io", "Lease")
CONTROLLER_LEASE = ("kube-system", "paas-app-controller")
WATCH_SECONDS = 60  # one watch request; re-read and watched again after it
LEASE_CHECK = 5.0  # seconds between reads of the controller's Lease during a deploy
CLOCK_SKEW = 2.0  # seconds a renewal may look late by (the controller's clock, then ours)
OUTPUT_TAIL = 2.0  # seconds the release's last lines may trail the deploy's outcome
INDENT = " " * 7  # a command's own output, under the "----->" steps (as Heroku shows it)


@dataclass(frozen=True)
class Step:
    line: str
    ok: bool | None = None  # set on the last step: did the deploy succeed
    live: bool = True  # False when the push succeeds with nothing deployed yet
    releasing: bool = False  # the release phase started: its output follows
    output: bool = False  # a line the release command printed


def lease_lapsed(lease: dict[str, Any], now: datetime) -> str:
    """Why ``lease`` holds no live controller ("" when one holds it)."""
    spec = lease.get("spec") or {}
    if not spec.get("holderIdentity"):
        return "no App controller holds its lease"
    renewed = parse_time(spec.get("renewTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or not isinstance(duration, int):
        return ""  # a lease without times (not ours): trust the holder
    if now > renewed + timedelta(seconds=duration + CLOCK_SKEW):
        return f"the App controller's lease was last renewed at {spec['renewTime']}"
    return ""


async def controller_lapse(client: APIClient) -> str:
    """Why no App controller would deploy now ("" when one holds a live Lease)."""
    namespace, name = CONTROLLER_LEASE
    try:
        lease = await client.get(LEASES, name, namespace)
    except errors.NotFound:
        return "no App controller has ever run"
    return lease_lapsed(lease, datetime.now(UTC))


async def controller_running(client: APIClient) -> bool:
    return not await controller_lapse(client)


def no_controller(why: str) -> Step:
    return Step(
        f" !     No App controller is running (paas app-controller; {why}): this build is "
        "kept and deploys once one runs.",
        ok=True,
        live=False,
    )


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
        return seen, Step(f"-----> Release phase: {message}", releasing=True)
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


async def _conditions(client: APIClient, namespace: str, name: str) -> AsyncIterator[Step]:
    """A Step per change of the Build's Deployed condition, until one with ``ok`` set."""
    last: list[tuple[str, str, str]] = []

    def changed(obj: dict[str, Any]) -> Step | None:
        seen, step = step_for(obj)
        if step is None or (last and last[-1] == seen):
            return None
        last.append(seen)
        return step

    gone = Step(f" !     Build {name} was deleted during its deploy", ok=False)
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


async def _watch_lease(client: APIClient, every: float) -> AsyncIterator[Step]:
    """The Step that ends the wait once the App controller's Lease lapses."""
    while True:
        await asyncio.sleep(every)
        why = await controller_lapse(client)
        if why:
            yield no_controller(why)
            return


async def follow_deploy(
    client: APIClient,
    namespace: str,
    name: str,
    *,
    timeout: float,
    lease_check: float = LEASE_CHECK,
) -> AsyncIterator[Step]:
    """The deploy of Build ``namespace/name`` as lines; the last one has ``ok`` set.

    Three sources feed one queue: the Build's condition, the release's
    output once the release phase starts, and the Lease check. A source
    that fails puts its exception there, and it is raised here.
    """
    why = await controller_lapse(client)
    if why:
        yield no_controller(why)
        return
    queue: asyncio.Queue[Step | BaseException] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []

    def start(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        tasks.append(task)
        return task

    async def feed(steps: AsyncIterator[Step]) -> None:
        try:
            async for step in steps:
                await queue.put(step)
        except Exception as exc:  # handed to the consumer, which raises it
            await queue.put(exc)

    async def output() -> None:
        try:
            async for line in release_output(client, namespace, name):
                await queue.put(Step(INDENT + line, output=True))
        except errors.APIError as exc:  # the output is a courtesy: the deploy goes on
            log.warning("release output of build %s/%s: %s", namespace, name, exc)

    start(feed(_conditions(client, namespace, name)))
    start(feed(_watch_lease(client, lease_check)))
    released: asyncio.Task[None] | None = None
    pending: list[Step | BaseException] = []
    tailed = False  # the release's output was waited for once the deploy moved on
    try:
        async with asyncio.timeout(timeout):
            while True:
                item = pending.pop(0) if pending else await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if item.releasing and released is None:
                    released = start(output())
                elif not item.output and released is not None and not tailed:
                    # The deploy moved on: the release's last lines come first, in order.
                    tailed = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(released), OUTPUT_TAIL)
                    later = [item, *pending]
                    while not queue.empty():
                        later.append(queue.get_nowait())
                    for early in later:
                        if isinstance(early, Step) and early.output:
                            yield early
                    pending = [x for x in later if not (isinstance(x, Step) and x.output)]
                    continue
                yield item
                if item.ok is not None:
                    return
    except TimeoutError:
        message = f"not deployed within {timeout:.0f}s; the build will not go live"
        await fail_build(client, namespace, name, "DeployTimeout", message)
        yield Step(f" !     Deploy failed (DeployTimeout): {message}", ok=False)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

"""The autoscaler's loop against a real API server and the serving controller.

Revisions come from a Knative Service applied as a user would; pods become
ready through ``support.podready`` (no node). The routers' side (counters
and held-request signals) is the router's own test; here a signal is handed
to the autoscaler as a router's stream would, so the loop's decisions,
writes and Events are what is checked: an idle revision goes to zero after
its (shortened) windows, a held request brings it back at once, min-scale
keeps a pod, and a revision no route sends traffic to goes to zero.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from support.apiserver import RunningAPI
from support.controlplane import ControlPlane, controllers
from support.wait import eventually_async

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from paas.autoscaler.controller import Autoscaler
from paas.autoscaler.settings import AutoscalerSettings
from paas.serving.kinds import DEPLOYMENTS, SERVICES

NS = "default"
EVENTS = BUILTIN_TYPES.require("", "Event")
FAST = AutoscalerSettings(
    tick=0.2, scrape_interval=0.2, stable_window=1.0, scale_to_zero_grace_period=0.5
)


def ksvc(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {"containers": [{"image": "ghcr.io/knative/helloworld-go:latest"}]},
            }
        },
    }


async def replicas(cp: ControlPlane, revision: str, wanted: int, timeout: float = 20) -> None:
    async def check() -> bool | None:
        try:
            d = await cp.client.get(DEPLOYMENTS, f"{revision}-deployment", NS)
        except errors.NotFound:
            return None  # not made yet
        return True if d["spec"].get("replicas") == wanted else None

    await eventually_async(check, timeout, f"{revision} never had {wanted} replicas")


async def ready(cp: ControlPlane, name: str) -> None:
    async def check() -> bool | None:
        svc = await cp.client.get(SERVICES, name, NS)
        conditions = (svc.get("status") or {}).get("conditions") or []
        return (
            True
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            else None
        )

    await eventually_async(check, 30, f"ksvc {name} never became Ready")


@contextlib.asynccontextmanager
async def autoscaler(api: RunningAPI) -> AsyncIterator[Autoscaler]:
    async with controllers(api, lambda ctx: Autoscaler(ctx, FAST)) as cp:
        scaler = cp.controllers[0]
        assert isinstance(scaler, Autoscaler)
        yield scaler


async def test_an_idle_revision_goes_to_zero_and_a_held_request_wakes_it(
    serving: ControlPlane, sqlite_api: RunningAPI
) -> None:
    await serving.client.create(SERVICES, ksvc("idle"), NS)
    await ready(serving, "idle")
    async with autoscaler(sqlite_api) as scaler:
        await replicas(serving, "idle-00001", 0)
        await scaler.signal((NS, "idle-00001"), 1)  # a router holds a request for it
        await replicas(serving, "idle-00001", 1, timeout=5)
        await replicas(serving, "idle-00001", 0)  # and idle again afterwards
    events = await serving.client.list(EVENTS, NS, field_selector="involvedObject.name=idle-00001")
    said = [e["message"] for e in events["items"] if e["reason"] == "Scaled"]
    assert any("from 1 to 0 (NoTraffic)" in m for m in said), said
    assert any("from 0 to 1" in m for m in said), said


async def test_min_scale_keeps_a_pod_while_the_revision_is_routed(
    serving: ControlPlane, sqlite_api: RunningAPI
) -> None:
    await serving.client.create(
        SERVICES, ksvc("warm", {"autoscaling.knative.dev/min-scale": "1"}), NS
    )
    await ready(serving, "warm")
    await serving.client.create(SERVICES, ksvc("cold"), NS)
    await ready(serving, "cold")
    async with autoscaler(sqlite_api):
        await replicas(serving, "cold-00001", 0)  # the same windows have passed for both
        deployment = await serving.client.get(DEPLOYMENTS, "warm-00001-deployment", NS)
        assert deployment["spec"]["replicas"] == 1


async def test_a_revision_no_route_reaches_goes_to_zero_whatever_its_min_scale(
    serving: ControlPlane, sqlite_api: RunningAPI
) -> None:
    body = ksvc("moving", {"autoscaling.knative.dev/min-scale": "2"})
    await serving.client.create(SERVICES, body, NS)
    await ready(serving, "moving")
    await replicas(serving, "moving-00001", 1)  # the initial scale; min-scale is ours to apply
    async with autoscaler(sqlite_api):
        await replicas(serving, "moving-00001", 2)
        body = await serving.client.get(SERVICES, "moving", NS)
        body["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "V", "value": "2"}]
        await serving.client.replace(SERVICES, body, NS)
        await replicas(serving, "moving-00002", 2)  # the new revision takes the traffic
        await replicas(serving, "moving-00001", 0)  # the old one is no longer routed

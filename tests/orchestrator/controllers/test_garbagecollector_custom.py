"""The garbage collector with kinds it learns from discovery, on both stores.

CronTabs (a custom kind, served by swapping the test server's catalogue as
establishing a CRD does) own ConfigMaps and are owned by them; every
cascade mode works both ways, and a kind defined after the collector
started is collected too.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.nodes import read, until
from support.wait import eventually

from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.client.rest import APIClient
from orchestrator.controllers.garbagecollector import GarbageCollector, GCSettings

CM = BUILTIN_TYPES.require("", "ConfigMap")
CRONTABS = ResourceType(
    group="stable.example.com", version="v1", kind="CronTab", plural="crontabs", namespaced=True
)
WITH_CRONTABS = BUILTIN_TYPES.with_types([CRONTABS])
NS = "default"


def gc_factory(ctx: Any) -> GarbageCollector:
    return GarbageCollector(ctx, GCSettings(resync_period=30.0, discovery_interval=0.1))


def ref_to(owner: dict[str, Any], block: bool = True) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "blockOwnerDeletion": block,
    }


async def make(client: APIClient, rt: ResourceType, name: str, *owners: dict[str, Any]) -> Any:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = [ref_to(o) for o in owners]
    body = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": meta}
    obj = await client.create(rt, body, NS)
    return {"apiVersion": rt.api_version, "kind": rt.kind, **obj}


async def gone(client: APIClient, rt: ResourceType, name: str) -> None:
    await until(lambda: read(client, rt, name, NS), lambda o: o is None)


def owner_names(obj: dict[str, Any]) -> list[str]:
    return [r["name"] for r in obj["metadata"].get("ownerReferences") or []]


@pytest.mark.parametrize(
    ("owner_rt", "dependent_rt"),
    [(CRONTABS, CM), (CM, CRONTABS)],
    ids=["custom-owner-core-dependents", "core-owner-custom-dependents"],
)
@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
async def test_owner_references_cascade_between_custom_and_core_kinds(
    api: RunningAPI, owner_rt: ResourceType, dependent_rt: ResourceType, policy: str
) -> None:
    api.serve_types(WITH_CRONTABS)
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        owner = await make(client, owner_rt, "owner")
        first = await make(client, dependent_rt, "first", owner)
        await make(client, dependent_rt, "second", first)  # a grandchild
        if policy == "Orphan":
            # Orphaning acts on the dependents the collector has seen, as Kubernetes' does: a
            # dependent whose create it has not seen yet would be collected as dangling later.
            collector = cp.controllers[0]
            uid = owner["metadata"]["uid"]
            await eventually(lambda: "first" in collector.dependents(uid))
        await client.delete(owner_rt, "owner", NS, propagation_policy=policy)
        await gone(client, owner_rt, "owner")
        if policy == "Orphan":
            first = await until(
                lambda: read(client, dependent_rt, "first", NS), lambda o: not owner_names(o)
            )
            second = await read(client, dependent_rt, "second", NS)
            assert second is not None and owner_names(second) == ["first"]
        else:
            await gone(client, dependent_rt, "first")
            await gone(client, dependent_rt, "second")


async def test_a_foreground_custom_owner_waits_for_its_blocking_dependents(
    api: RunningAPI,
) -> None:
    api.serve_types(WITH_CRONTABS)
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        owner = await make(client, CRONTABS, "owner")
        await client.create(
            CM,
            {
                "metadata": {
                    "name": "held",
                    "finalizers": ["example.com/hold"],
                    "ownerReferences": [ref_to(owner)],
                }
            },
            NS,
        )
        await client.delete(CRONTABS, "owner", NS, propagation_policy="Foreground")
        await until(
            lambda: read(client, CM, "held", NS),
            lambda o: bool(o["metadata"].get("deletionTimestamp")),
        )
        waiting = await read(client, CRONTABS, "owner", NS)
        assert waiting is not None
        assert waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
        release = {"metadata": {"finalizers": None}}
        await client.patch(CM, "held", release, NS)
        await gone(client, CM, "held")
        await gone(client, CRONTABS, "owner")


async def test_a_kind_defined_after_the_collector_started_is_collected(
    api: RunningAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator.client.discovery")
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        api.serve_types(WITH_CRONTABS)
        owner = await make(client, CRONTABS, "owner")
        await make(client, CM, "dependent", owner)
        await make(client, CRONTABS, "crontab-dependent", owner)
        await client.delete(CRONTABS, "owner", NS)
        await gone(client, CM, "dependent")
        await gone(client, CRONTABS, "crontab-dependent")
        appeared = (
            "garbage-collector: crontabs.stable.example.com (stable.example.com/v1)"
            " is served: handling it"
        )
        assert appeared in [r.getMessage() for r in caplog.records]

        api.serve_types(BUILTIN_TYPES)
        went = (
            "garbage-collector: crontabs.stable.example.com (stable.example.com/v1)"
            " is no longer served: dropped"
        )
        await eventually(lambda: went in [r.getMessage() for r in caplog.records])
        # Collection of the kinds still served goes on.
        parent = await make(client, CM, "parent")
        await make(client, CM, "child", parent)
        await client.delete(CM, "parent", NS)
        await gone(client, CM, "child")


async def test_a_dependent_of_a_kind_not_yet_known_is_collected_once_it_is(
    api: RunningAPI,
) -> None:
    """The owner went before the collector learned its kind: the dependent is looked at again."""
    async with controllers(
        api, lambda ctx: GarbageCollector(ctx, GCSettings(discovery_interval=0.5))
    ) as cp:
        client = cp.client
        api.serve_types(WITH_CRONTABS)
        owner = await make(client, CRONTABS, "owner")
        await make(client, CM, "dependent", owner)
        await client.delete(CRONTABS, "owner", NS)
        await gone(client, CM, "dependent")


async def test_an_owner_orphaned_before_the_collector_started_keeps_its_custom_dependents(
    api: RunningAPI,
) -> None:
    """The collector must have read discovery before it orphans: else its graph lacks them."""
    api.serve_types(WITH_CRONTABS)
    async with APIClient(api.client_config()) as client:
        owner = await make(client, CM, "owner")
        await make(client, CRONTABS, "first", owner)
        await make(client, CRONTABS, "second", owner)
        await client.delete(CM, "owner", NS, propagation_policy="Orphan")
    async with controllers(api, gc_factory) as cp:
        await gone(cp.client, CM, "owner")
        for name in ("first", "second"):
            kept = await until(
                lambda name=name: read(cp.client, CRONTABS, name, NS),  # type: ignore[misc]
                lambda o: o is None or not owner_names(o),
            )
            assert kept is not None, f"{name} was deleted instead of orphaned"


async def test_dependents_of_a_kind_that_went_away_are_collected(
    api: RunningAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """A CRD's deletion takes its objects with it, and the collector may never see them go.

    Under load its watch of the kind had not listed the owners yet when the kind
    stopped being served, so no deletion reached it; it then took the owners'
    kind for unknown and kept their dependents for good. A kind that went is
    remembered: its owners are looked up live, and a kind no longer served
    holds nothing.
    """
    caplog.set_level(logging.INFO, logger="orchestrator.client.discovery")
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        api.serve_types(WITH_CRONTABS)
        owner = await make(client, CRONTABS, "owner")
        await make(client, CM, "dependent", owner)
        await make(client, CM, "bystander")
        served = (
            "garbage-collector: crontabs.stable.example.com (stable.example.com/v1)"
            " is served: handling it"
        )
        await eventually(lambda: served in [r.getMessage() for r in caplog.records])
        api.serve_types(BUILTIN_TYPES)  # the CRD went: its objects are not served any more
        await gone(client, CM, "dependent")
        assert await read(client, CM, "bystander", NS) is not None

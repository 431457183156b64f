"""The garbage collector: ownerReferences cascade in all three modes, on both stores.

ConfigMaps own ConfigMaps here (a Deployment -> ReplicaSet -> Pod chain in
miniature), so no other controller is needed. The per-dependent decision
(``plan_dependent``) is checked with a table.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.nodes import read, until
from support.wait import eventually

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.controllers.garbagecollector import (
    DependentPlan,
    GarbageCollector,
    GCSettings,
    OwnerState,
    plan_dependent,
)

CM = BUILTIN_TYPES.by_group_kind("", "ConfigMap")
NS = "default"
SOLID, DANGLING, WAITING = OwnerState.SOLID, OwnerState.DANGLING, OwnerState.WAITING


def dependent(*uids: str, deleting: bool = False) -> dict[str, Any]:
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": u, "uid": u} for u in uids]
    meta: dict[str, Any] = {"name": "d", "uid": "d", "ownerReferences": refs}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T00:00:00Z"
    return {"metadata": meta}


@pytest.mark.parametrize(
    ("obj", "states", "has_dependents", "expected"),
    [
        (dependent(), {}, False, DependentPlan("keep")),
        (dependent("a"), {"a": SOLID}, False, DependentPlan("keep")),
        (dependent("a"), {"a": DANGLING}, False, DependentPlan("delete", "Background")),
        (dependent("a"), {"a": DANGLING}, True, DependentPlan("delete", "Background")),
        (dependent("a"), {"a": WAITING}, False, DependentPlan("delete", "Background")),
        (dependent("a"), {"a": WAITING}, True, DependentPlan("delete", "Foreground")),
        (
            dependent("a", "b"),
            {"a": DANGLING, "b": SOLID},
            False,
            DependentPlan("remove_refs", remove_uids=("a",)),
        ),
        (
            dependent("a", "b"),
            {"a": WAITING, "b": SOLID},
            False,
            DependentPlan("remove_refs", remove_uids=("a",)),
        ),
        (
            dependent("a", "b"),
            {"a": DANGLING, "b": DANGLING},
            False,
            DependentPlan("delete", "Background"),
        ),
        (
            dependent("a", "b"),
            {"a": DANGLING, "b": WAITING},
            True,
            DependentPlan("delete", "Foreground"),
        ),
        (dependent("a", deleting=True), {"a": DANGLING}, False, DependentPlan("keep")),
    ],
)
def test_plan_dependent(
    obj: dict[str, Any],
    states: dict[str, OwnerState],
    has_dependents: bool,
    expected: DependentPlan,
) -> None:
    assert plan_dependent(obj, states, has_dependents) == expected


def owned_by(owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


async def make(
    client: APIClient, name: str, *owners: dict[str, Any], finalizers: list[str] | None = None
) -> dict[str, Any]:
    assert CM is not None
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    return await client.create(CM, {"metadata": meta, "data": {"k": name}}, NS)


async def gone(client: APIClient, name: str, timeout: float = 10.0) -> None:
    assert CM is not None
    await until(lambda: read(client, CM, name, NS), lambda o: o is None, timeout)


def gc_factory(ctx: Any) -> GarbageCollector:
    return GarbageCollector(ctx, GCSettings(resync_period=5.0))


async def test_background_deletion_removes_the_whole_chain(api: RunningAPI) -> None:
    assert CM is not None
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        top = await make(client, "deploy")
        mid = await make(client, "rs", owned_by(top))
        await make(client, "pod-1", owned_by(mid))
        await make(client, "pod-2", owned_by(mid))
        bystander = await make(client, "unrelated")
        await client.delete(CM, "deploy", NS)  # Background is the default
        for name in ("rs", "pod-1", "pod-2"):
            await gone(client, name)
        assert await read(client, CM, "unrelated", NS) == bystander


async def test_a_new_object_with_the_owners_name_is_not_the_owner(api: RunningAPI) -> None:
    assert CM is not None
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        old = await make(client, "owner")
        await client.delete(CM, "owner", NS)
        await make(client, "owner")  # same name, new uid
        await make(client, "child", owned_by(old))
        await gone(client, "child")
        assert await read(client, CM, "owner", NS) is not None


async def test_a_dependent_with_a_living_owner_stays_and_loses_the_dead_one(
    api: RunningAPI,
) -> None:
    assert CM is not None
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        first = await make(client, "first")
        second = await make(client, "second")
        await make(client, "shared", owned_by(first), owned_by(second))
        await client.delete(CM, "first", NS)
        shared = await until(
            lambda: read(client, CM, "shared", NS),
            lambda o: [r["name"] for r in o["metadata"].get("ownerReferences") or []] == ["second"],
        )
        assert shared["data"] == {"k": "shared"}
        await client.delete(CM, "second", NS)
        await gone(client, "shared")


async def test_orphan_deletion_keeps_dependents_without_the_reference(api: RunningAPI) -> None:
    assert CM is not None
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        owner = await make(client, "owner")
        other = await make(client, "other")
        await make(client, "child", owned_by(owner), owned_by(other))
        await client.delete(CM, "owner", NS, propagation_policy="Orphan")
        await gone(client, "owner")
        child = await read(client, CM, "child", NS)
        assert child is not None
        assert [r["name"] for r in child["metadata"]["ownerReferences"]] == ["other"]
        # The orphan stays: its remaining owner is alive.
        assert await read(client, CM, "child", NS) is not None


async def test_a_dependent_orphaned_after_its_cached_copy_is_not_collected(
    api: RunningAPI,
) -> None:
    # Each kind has its own watch: the owner's deletion can arrive while the cache still holds
    # the dependent as it was before orphaning. Acting on that copy must not delete it.
    assert CM is not None
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        owner = await make(client, "owner")
        stale = await make(client, "child", owned_by(owner))
        await client.patch(CM, "child", {"metadata": {"ownerReferences": None}}, NS)
        await client.delete(CM, "owner", NS)
        await gone(client, "owner")
        cache = cp.ctx.informers.informer(CM)  # the collector's, shared: wait until it agrees
        await eventually(lambda: cache.get_by_name(NS, "owner") is None)
        collector = cp.controllers[0]
        assert isinstance(collector, GarbageCollector)
        with pytest.raises(errors.Conflict):  # the worker loop retries it on a fresher cache
            await collector.collect(CM, stale)
        child = await read(client, CM, "child", NS)
        assert child is not None and not child["metadata"].get("ownerReferences")


async def test_foreground_deletion_waits_for_blocking_dependents(api: RunningAPI) -> None:
    assert CM is not None
    async with controllers(api, gc_factory) as cp:
        client = cp.client
        owner = await make(client, "owner")
        mid = await make(client, "mid", owned_by(owner, block=True))
        # A grandchild that cannot go yet (someone else's finalizer) holds the chain up.
        await make(client, "stuck", owned_by(mid, block=True), finalizers=["example.com/hold"])
        await make(client, "loose", owned_by(owner))
        await client.delete(CM, "owner", NS, propagation_policy="Foreground")
        await gone(client, "loose")
        stuck = await until(
            lambda: read(client, CM, "stuck", NS),
            lambda o: bool(o["metadata"].get("deletionTimestamp")),
        )
        held_owner = await read(client, CM, "owner", NS)
        assert held_owner is not None
        assert held_owner["metadata"]["finalizers"] == ["foregroundDeletion"]
        assert held_owner["metadata"].get("deletionTimestamp")
        held_mid = await read(client, CM, "mid", NS)
        assert held_mid is not None and held_mid["metadata"].get("deletionTimestamp")

        await client.patch(
            CM,
            "stuck",
            {
                "metadata": {
                    "finalizers": None,
                    "resourceVersion": stuck["metadata"]["resourceVersion"],
                }
            },
            NS,
        )
        for name in ("stuck", "mid", "owner"):
            await gone(client, name)

"""Deleting a namespace removes everything in it, then the namespace, on both stores."""

from __future__ import annotations

from typing import Any

from support.apiserver import RunningAPI
from support.controlplane import controllers
from support.nodes import read, until

from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.controllers.namespace import NamespaceController, NamespaceSettings

NAMESPACES = BUILTIN_TYPES.by_group_kind("", "Namespace")
CM = BUILTIN_TYPES.by_group_kind("", "ConfigMap")
SECRETS = BUILTIN_TYPES.by_group_kind("", "Secret")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
JOBS = BUILTIN_TYPES.by_group_kind("batch", "Job")
EVENTS = BUILTIN_TYPES.by_group_kind("", "Event")


def fast(ctx: Any) -> NamespaceController:
    return NamespaceController(ctx, NamespaceSettings(recheck_interval=0.1))


POD = {
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "busybox:1.36"}]},
}
JOB = {
    "metadata": {"name": "batch"},
    "spec": {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox:1.36"}],
            }
        }
    },
}


async def test_deleting_a_namespace_removes_its_content_then_itself(api: RunningAPI) -> None:
    assert NAMESPACES and CM and SECRETS and PODS and JOBS and EVENTS
    async with controllers(api, fast) as cp:
        client = cp.client
        await client.create(NAMESPACES, {"metadata": {"name": "team"}})
        await client.create(NAMESPACES, {"metadata": {"name": "keep"}})
        await client.create(CM, {"metadata": {"name": "settings"}, "data": {"a": "1"}}, "team")
        await client.create(
            SECRETS, {"metadata": {"name": "token"}, "stringData": {"t": "x"}}, "team"
        )
        await client.create(PODS, POD, "team")
        await client.create(JOBS, JOB, "team")
        await client.create(CM, {"metadata": {"name": "settings"}, "data": {"a": "1"}}, "keep")

        await client.delete(NAMESPACES, "team")
        await until(lambda: read(client, NAMESPACES, "team"), lambda o: o is None)
        for rt in (CM, SECRETS, PODS, JOBS):
            assert (await client.list(rt, "team"))["items"] == []
        assert await read(client, CM, "settings", "keep") is not None
        assert (await read(client, NAMESPACES, "keep") or {})["status"]["phase"] == "Active"


async def test_a_namespace_stays_terminating_until_its_content_is_gone(api: RunningAPI) -> None:
    assert NAMESPACES and CM
    async with controllers(api, fast) as cp:
        client = cp.client
        await client.create(NAMESPACES, {"metadata": {"name": "slow"}})
        await client.create(
            CM, {"metadata": {"name": "held", "finalizers": ["example.com/cleanup"]}}, "slow"
        )
        await client.create(CM, {"metadata": {"name": "free"}}, "slow")
        await client.delete(NAMESPACES, "slow")

        await until(lambda: read(client, CM, "free", "slow"), lambda o: o is None)
        await until(
            lambda: read(client, CM, "held", "slow"),
            lambda o: bool(o["metadata"].get("deletionTimestamp")),
        )
        ns = await read(client, NAMESPACES, "slow")
        assert ns is not None
        assert ns["status"]["phase"] == "Terminating"
        assert ns["spec"]["finalizers"] == ["kubernetes"]

        await client.patch(CM, "held", {"metadata": {"finalizers": None}}, "slow")
        await until(lambda: read(client, NAMESPACES, "slow"), lambda o: o is None)


CRONTABS = ResourceType(
    group="stable.example.com", version="v1", kind="CronTab", plural="crontabs", namespaced=True
)


async def test_deleting_a_namespace_removes_custom_objects_of_a_kind_defined_late(
    api: RunningAPI,
) -> None:
    """The kind is served after the controller started; the pass reads discovery itself."""
    assert NAMESPACES and CM
    async with controllers(api, fast) as cp:
        client = cp.client
        await client.create(NAMESPACES, {"metadata": {"name": "team"}})
        api.serve_types(BUILTIN_TYPES.with_types([CRONTABS]))
        crontab = {"apiVersion": "stable.example.com/v1", "kind": "CronTab"}
        for name in ("nightly", "hourly"):
            await client.create(CRONTABS, {**crontab, "metadata": {"name": name}}, "team")
        await client.create(
            CRONTABS,
            {**crontab, "metadata": {"name": "held", "finalizers": ["example.com/hold"]}},
            "team",
        )
        await client.create(CRONTABS, {**crontab, "metadata": {"name": "other"}}, "default")

        await client.delete(NAMESPACES, "team")
        held = await until(
            lambda: read(client, CRONTABS, "held", "team"),
            lambda o: bool(o["metadata"].get("deletionTimestamp")),
        )
        await until(
            lambda: client.list(CRONTABS, "team"),
            lambda page: [o["metadata"]["name"] for o in page["items"]] == ["held"],
        )
        assert await read(client, NAMESPACES, "team") is not None  # waits for the custom object
        await client.patch(
            CRONTABS,
            "held",
            {
                "metadata": {
                    "finalizers": None,
                    "resourceVersion": held["metadata"]["resourceVersion"],
                }
            },
            "team",
        )
        await until(lambda: read(client, NAMESPACES, "team"), lambda o: o is None)
        assert await read(client, CRONTABS, "other", "default") is not None

"""A delete that names the uid it means (the node agent's last word on a pod it stopped)."""

from __future__ import annotations

import pytest
from support.apiserver import RunningAPI

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient

PODS = BUILTIN_TYPES.require("", "Pod")


def pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}}


async def test_a_delete_by_an_old_uid_leaves_the_new_pod_that_took_the_name(
    sqlite_api: RunningAPI,
) -> None:
    async with APIClient(sqlite_api.client_config()) as client:
        old = await client.create(PODS, pod("web"), "default")
        await client.delete(PODS, "web", "default", grace_period_seconds=0)
        new = await client.create(PODS, pod("web"), "default")

        with pytest.raises(errors.Conflict) as refused:
            await client.delete(
                PODS, "web", "default", grace_period_seconds=0, uid=old["metadata"]["uid"]
            )
        assert "Precondition failed: UID in precondition" in str(refused.value)
        kept = await client.get(PODS, "web", "default")
        assert kept["metadata"]["uid"] == new["metadata"]["uid"]

        await client.delete(
            PODS, "web", "default", grace_period_seconds=0, uid=new["metadata"]["uid"]
        )
        with pytest.raises(errors.NotFound):
            await client.get(PODS, "web", "default")

"""The node agent watches each ConfigMap and Secret its pods name, by name, and no others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.wait import eventually

from orchestrator.api.podrefs import Reference
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.auth import add_token
from orchestrator.client.config import ClientConfig
from orchestrator.client.informer import Handler
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.podobjects import PodObjects

SECRETS = BUILTIN_TYPES.require("", "Secret")
CONFIGMAPS = BUILTIN_TYPES.require("", "ConfigMap")
PODS = BUILTIN_TYPES.require("", "Pod")


def pod(uid: str, *, secret: str = "", config_map: str = "") -> dict[str, Any]:
    env = []
    if secret:
        env.append({"name": "S", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}})
    if config_map:
        env.append(
            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": config_map, "key": "k"}}}
        )
    return {
        "metadata": {"name": uid, "namespace": "default", "uid": uid},
        "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "i", "env": env}]},
    }


@pytest.fixture
async def admin(sqlite_api: RunningAPI) -> AsyncIterator[APIClient]:
    async with APIClient(sqlite_api.client_config()) as client:
        yield client


@pytest.fixture
async def node_client(sqlite_api: RunningAPI) -> AsyncIterator[APIClient]:
    token = add_token(
        sqlite_api.data_dir / "tokens.json", user="system:node:n1", groups=["system:nodes"]
    )
    config = ClientConfig(server=sqlite_api.url, token=token, ca_data=sqlite_api.ca.read_bytes())
    async with APIClient(config) as client:
        yield client


async def test_a_node_watches_only_the_objects_its_pods_name_while_they_name_them(
    admin: APIClient, node_client: APIClient
) -> None:
    await admin.create(SECRETS, {"metadata": {"name": "db"}, "stringData": {"k": "v"}}, "default")
    await admin.create(SECRETS, {"metadata": {"name": "unused"}}, "default")
    changed: list[str] = []
    objects = PodObjects(
        node_client, Handler(lambda o: changed.append(o["metadata"]["name"]), None, None)
    )
    # The pods are bound to n1 in the API: the Node authorizer lets n1 read what they name.
    bound = [pod("a", secret="db"), pod("b", secret="db", config_map="flags")]
    for body in bound:
        body = {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "uid"}}
        await admin.create(PODS, body, "default")
    try:
        objects.track(pod("a", secret="db"))
        objects.track(pod("b", secret="db", config_map="flags"))
        assert objects.watched == {
            Reference("secrets", "default", "db"),
            Reference("configmaps", "default", "flags"),
        }
        assert await objects.wait_synced(10)
        assert objects.secret("default", "db") is not None
        assert objects.secret("default", "unused") is None  # never fetched
        assert objects.config_map("default", "flags") is None  # does not exist yet
        await admin.create(
            CONFIGMAPS, {"metadata": {"name": "flags"}, "data": {"k": "on"}}, "default"
        )
        await eventually(lambda: objects.config_map("default", "flags"))
        assert "flags" in changed  # the pods using it are looked at again
        objects.untrack("b")
        assert objects.watched == {Reference("secrets", "default", "db")}
        objects.track(pod("a"))  # no longer names the Secret
        assert objects.watched == frozenset()
    finally:
        await objects.close()

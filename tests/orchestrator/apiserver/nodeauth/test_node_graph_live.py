"""The Node authorizer on a running API server: its graph follows the store, ahead of watchers.

Authorization is asked of the server's own Node authorizer with the
attributes a request would carry; the chain that turns its answers into
403s is RBAC's (authz/chain.py), which asks it first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from support.apiserver import RunningAPI, start_api
from support.wait import wait_until

from orchestrator.apiserver.authz.attributes import Attributes, Authorizer, Decision
from orchestrator.apiserver.identity import UserInfo

PODS = "/api/v1/namespaces/default/pods"
SECRETS = "/api/v1/namespaces/default/secrets"


def node_user(name: str) -> UserInfo:
    return UserInfo(f"system:node:{name}", groups=("system:nodes", "system:authenticated"))


def get_secret(node: str, name: str) -> Attributes:
    return Attributes(
        user=node_user(node),
        verb="get",
        api_version="v1",
        resource="secrets",
        namespace="default",
        name=name,
    )


def node_authorizer(api: RunningAPI) -> Authorizer:
    assert api.server.node_access is not None
    return api.server.node_access.authorizer


def pod(name: str, node: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": "paas/stack:bookworm",
                    "env": [
                        {
                            "name": "PW",
                            "valueFrom": {"secretKeyRef": {"name": secret, "key": "pw"}},
                        }
                    ],
                }
            ],
        },
    }


@pytest.fixture
def api(sqlite_api: RunningAPI) -> Iterator[RunningAPI]:
    yield sqlite_api


def test_a_node_may_read_the_secret_its_pod_uses_and_not_another_nodes(api: RunningAPI) -> None:
    authorize = node_authorizer(api).authorize
    with api.http() as admin:
        for name in ("db", "cache"):
            secret = {"metadata": {"name": name}, "stringData": {"pw": "x"}}
            admin.post(SECRETS, json=secret).raise_for_status()
        admin.post(PODS, json=pod("web", "n1", "db")).raise_for_status()
        admin.post(PODS, json=pod("worker", "n2", "cache")).raise_for_status()
        wait_until(lambda: authorize(get_secret("n2", "cache"))[0] is Decision.ALLOW)
        assert authorize(get_secret("n1", "db")) == (Decision.ALLOW, "")
        assert authorize(get_secret("n1", "cache")) == (
            Decision.NO_OPINION,
            "no relationship found between node 'n1' and this object",
        )
        admin.delete(f"{PODS}/web", params={"gracePeriodSeconds": 0}).raise_for_status()
        wait_until(lambda: authorize(get_secret("n1", "db"))[0] is Decision.NO_OPINION)


def test_the_graph_knows_a_pod_before_the_nodes_watch_shows_it(api: RunningAPI) -> None:
    """What a watcher of the hub receives, the authorizer already allows (section 9's race)."""
    assert api.server.hub is not None
    hub, authorize = api.server.hub, node_authorizer(api).authorize
    count = 20
    subscribed = asyncio.Event()

    async def watch_as_node() -> list[bool]:
        seen: list[bool] = []
        changes = hub.changes("/registry/core/pods/", hub.revision)
        pending = asyncio.ensure_future(anext(changes))
        subscribed.set()
        while len(seen) < count:
            change = await pending
            name = change.obj["metadata"]["name"]  # type: ignore[union-attr]
            # No await between receiving the change and asking: as early as a node could.
            seen.append(authorize(get_secret("n1", f"s-{name}"))[0] is Decision.ALLOW)
            pending = asyncio.ensure_future(anext(changes))
        pending.cancel()
        await changes.aclose()
        return seen

    watching = asyncio.run_coroutine_threadsafe(watch_as_node(), api.loop)
    wait_until(subscribed.is_set)
    with api.http() as admin:
        for i in range(count):
            admin.post(PODS, json=pod(f"p{i}", "n1", f"s-p{i}")).raise_for_status()
    assert watching.result(30) == [True] * count


def test_a_restarted_server_rebuilds_the_graph_from_the_store(tmp_path: Any) -> None:
    first = start_api(tmp_path / "api")
    try:
        with first.http() as admin:
            admin.post(PODS, json=pod("web", "n1", "db")).raise_for_status()
        port = int(first.url.rsplit(":", 1)[1])
    finally:
        first.stop()
    second = start_api(tmp_path / "api", port=port)
    try:
        # Ready from the first request: the graph is filled before the server listens.
        assert node_authorizer(second).authorize(get_secret("n1", "db")) == (Decision.ALLOW, "")
    finally:
        second.stop()

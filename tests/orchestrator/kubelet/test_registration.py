"""A node agent that is still starting: NotReady when new, its status untouched when taken over."""

from __future__ import annotations

from support.apiserver import RunningAPI

from orchestrator.api.conditions import condition_of, condition_status
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.registration import NodeAgent, NodeSettings

NODES = BUILTIN_TYPES.by_group_kind("", "Node")
STARTING = "container runtime is starting"


def ready(node: dict) -> tuple[str, str, str]:
    c = condition_of(node, "Ready")
    assert c is not None, f"no Ready condition: {node['status']}"
    return c["status"], c["reason"], c["message"]


async def test_a_new_node_is_not_ready_until_its_runtime_has_started(sqlite_api: RunningAPI):
    async with APIClient(sqlite_api.client_config()) as client:
        agent = NodeAgent(client, "n1", NodeSettings())
        agent.not_ready = STARTING
        await agent.register()
        node = await client.get(NODES, "n1")
        assert ready(node) == ("False", "KubeletNotReady", STARTING)
        assert node["status"]["nodeInfo"]["bootID"] == agent.boot_id
        await agent.started()
        node = await client.get(NODES, "n1")
        assert ready(node) == ("True", "KubeletReady", "kubelet is posting ready status")


async def test_a_restarted_agent_leaves_the_status_alone_until_it_has_started(
    sqlite_api: RunningAPI,
):
    """Its pods keep their Ready conditions (a NotReady node would have them marked unready),
    and the boot ID still names the last run, which is how ``paas up`` tells the runs apart."""
    async with APIClient(sqlite_api.client_config()) as client:
        first = NodeAgent(client, "n1", NodeSettings())
        await first.register()
        assert condition_status(await client.get(NODES, "n1"), "Ready") == "True"
        again = NodeAgent(client, "n1", NodeSettings(labels={"zone": "b"}))
        again.not_ready = STARTING
        await again.register()
        node = await client.get(NODES, "n1")
        assert node["metadata"]["labels"]["zone"] == "b"  # taken over
        assert ready(node)[0] == "True"
        assert node["status"]["nodeInfo"]["bootID"] == first.boot_id
        await again.started()
        node = await client.get(NODES, "n1")
        assert ready(node)[0] == "True"
        assert node["status"]["nodeInfo"]["bootID"] == again.boot_id

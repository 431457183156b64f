"""Node IPAM: every Node gets its own /24 of the cluster range, stable across restarts."""

from __future__ import annotations

import ipaddress

import pytest
from support.controlplane import controllers
from support.nodes import read, simulated_nodes, until
from support.wait import eventually

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.nodeipam import NodeIPAMController, NodeIPAMSettings, next_free_cidr

NODES = BUILTIN_TYPES.by_group_kind("", "Node")
PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"nodeName": "node-0", "containers": [{"name": "app", "image": "paas/stack:bookworm"}]},
}


@pytest.mark.parametrize(
    ("cluster", "mask", "used", "expected"),
    [
        ("10.244.0.0/16", 24, [], "10.244.0.0/24"),
        ("10.244.0.0/16", 24, ["10.244.0.0/24", "10.244.1.0/24"], "10.244.2.0/24"),
        ("10.244.0.0/16", 24, ["10.244.1.0/24"], "10.244.0.0/24"),  # a freed range is reused
        ("10.244.0.0/16", 24, ["10.244.0.0/23"], "10.244.2.0/24"),  # overlaps count
        ("10.244.0.0/16", 24, ["192.168.0.0/24", "garbage"], "10.244.0.0/24"),
        ("10.244.0.0/23", 24, ["10.244.0.0/24", "10.244.1.0/24"], None),  # exhausted
    ],
)
def test_next_free_cidr(cluster, mask, used, expected):
    assert next_free_cidr(cluster, mask, used) == expected


def pod_cidr(node):
    return (node or {}).get("spec", {}).get("podCIDR")


async def test_each_node_gets_a_distinct_cidr_that_survives_a_restart(api):
    async with simulated_nodes(api, count=3) as nodes:
        client = nodes.client
        async with controllers(api, NodeIPAMController):
            cidrs = {}
            for name in nodes.names:
                node = await until(lambda n=name: read(client, NODES, n), pod_cidr)
                assert node["spec"]["podCIDRs"] == [node["spec"]["podCIDR"]]
                cidrs[name] = node["spec"]["podCIDR"]

            # the node agent hands its pods addresses from the range it was given
            agent = nodes.agents["node-0"]
            await eventually(lambda: pod_cidr(agent.nodes.get("node-0")))
            await client.create(PODS, POD, "default")
            running = await until(
                lambda: read(client, PODS, "web", "default"),
                lambda p: p["status"].get("podIP"),
            )
            assert ipaddress.ip_address(running["status"]["podIP"]) in ipaddress.ip_network(
                cidrs["node-0"]
            )
        assert len(set(cidrs.values())) == 3
        cluster = ipaddress.ip_network("10.244.0.0/16")
        assert all(ipaddress.ip_network(c).subnet_of(cluster) for c in cidrs.values())

        # a new controller derives what is taken from the Nodes: old ranges stay, a new
        # node gets a fresh one
        await nodes.start("node-3")
        async with controllers(api, NodeIPAMController):
            fourth = await until(lambda: read(client, NODES, "node-3"), pod_cidr)
            for name, cidr in cidrs.items():
                assert pod_cidr(await read(client, NODES, name)) == cidr
        assert fourth["spec"]["podCIDR"] not in cidrs.values()


async def test_exhausted_range_reports_cidr_not_available(sqlite_api):
    settings = NodeIPAMSettings(cluster_cidr="10.9.0.0/24", node_mask=24)
    async with simulated_nodes(sqlite_api, count=2) as nodes:
        async with controllers(sqlite_api, lambda ctx: NodeIPAMController(ctx, settings)) as cp:
            events = BUILTIN_TYPES.by_group_kind("", "Event")

            async def warnings():
                return (await cp.client.list(events, "default"))["items"]

            found = await until(
                warnings, lambda items: any(e["reason"] == "CIDRNotAvailable" for e in items)
            )
            cidrs = [pod_cidr(await read(nodes.client, NODES, n)) for n in nodes.names]
            assert sorted(cidrs, key=str) == sorted(["10.9.0.0/24", None], key=str)
            assert found

"""The simulated node agent: registration, heartbeat, pods Running and Ready, deletion."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from support.nodes import read, simulated_nodes, until
from support.wait import eventually

from orchestrator.api.conditions import condition_of, condition_status
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient, resource_path
from orchestrator.kubelet import podstatus
from orchestrator.kubelet.simulated import SimulatedNodeSettings, run_simulated_nodes

PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
NODES = BUILTIN_TYPES.by_group_kind("", "Node")
LEASES = BUILTIN_TYPES.by_group_kind("coordination.k8s.io", "Lease")
NODEINFO_FIELDS = {
    "architecture",
    "bootID",
    "containerRuntimeVersion",
    "kernelVersion",
    "kubeProxyVersion",
    "kubeletVersion",
    "machineID",
    "operatingSystem",
    "osImage",
    "systemUUID",
}


def pod(name: str, node: str = "node-0", **extra: object) -> dict:
    annotations = extra.pop("annotations", None)
    spec = {
        "nodeName": node,
        "containers": [
            {
                "name": "app",
                "image": "paas/stack:bookworm",
                "ports": [{"name": "http", "containerPort": 8080}],
            }
        ],
        **extra,
    }
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


async def test_node_registers_with_what_clients_require_and_heartbeats(api):
    async with simulated_nodes(api, count=1) as nodes:
        client = nodes.client
        node = await client.get(NODES, "node-0")
        info = node["status"]["nodeInfo"]
        assert set(info) >= NODEINFO_FIELDS and all(isinstance(info[k], str) for k in info)
        assert info["kubeletVersion"] == "v1.33.0"
        assert info["containerRuntimeVersion"] == "simulated://1.0"
        assert node["status"]["capacity"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-0"
        internal = [a for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        assert ipaddress.ip_address(internal[0]["address"]).is_loopback
        ready = condition_of(node, "Ready")
        assert ready is not None and ready["status"] == "True" and ready["lastHeartbeatTime"]

        first = await until(lambda: read(client, LEASES, "node-0", "kube-node-lease"), bool)
        assert first["spec"]["holderIdentity"] == "node-0"
        await until(
            lambda: read(client, LEASES, "node-0", "kube-node-lease"),
            lambda lease: lease["spec"]["renewTime"] != first["spec"]["renewTime"],
        )


async def test_bound_pod_becomes_running_and_ready_then_deletion_completes(api):
    async with simulated_nodes(api, count=1) as nodes:
        client = nodes.client
        await client.create(PODS, pod("web"), "default")
        running = await until(
            lambda: read(client, PODS, "web", "default"),
            lambda p: condition_status(p, "Ready") == "True",
        )
        status = running["status"]
        assert status["phase"] == "Running"
        assert ipaddress.ip_address(status["podIP"])
        assert status["hostIP"] and status["startTime"]
        types = {c["type"]: c["status"] for c in status["conditions"]}
        for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled"):
            assert types[t] == "True"
        container = status["containerStatuses"][0]
        assert container["name"] == "app" and container["ready"] is True
        assert container["restartCount"] == 0 and container["imageID"]
        assert container["state"]["running"]["startedAt"]

        await client.delete(PODS, "web", "default")
        await until(lambda: read(client, PODS, "web", "default"), lambda p: p is None)

        # bound the way the scheduler binds: POST pods/{name}/binding
        unbound = pod("bound-later")
        del unbound["spec"]["nodeName"]
        await client.create(PODS, unbound, "default")
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "bound-later"},
            "target": {"kind": "Node", "name": "node-0"},
        }
        await client.request(
            "POST", resource_path(PODS, "default", "bound-later", "binding"), json_body=binding
        )
        await until(
            lambda: read(client, PODS, "bound-later", "default"),
            lambda p: condition_status(p, "Ready") == "True",
        )


async def test_pod_ip_comes_from_the_nodes_pod_cidr(sqlite_api):
    async with simulated_nodes(sqlite_api, count=1) as nodes:
        client = nodes.client
        await client.patch(
            NODES, "node-0", {"spec": {"podCIDR": "10.244.7.0/24", "podCIDRs": ["10.244.7.0/24"]}}
        )
        await eventually(
            lambda: (
                (nodes.agents["node-0"].nodes.get("node-0") or {}).get("spec", {}).get("podCIDR")
            )
        )
        for name in ("a", "b"):
            await client.create(PODS, pod(name), "default")
        ips = set()
        for name in ("a", "b"):
            p = await until(lambda n=name: read(client, PODS, n, "default"), podstatus.is_running)
            ips.add(p["status"]["podIP"])
        assert len(ips) == 2
        assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.7.0/24") for ip in ips)


async def test_pods_complete_or_fail_by_annotation(sqlite_api):
    async with simulated_nodes(sqlite_api, count=1) as nodes:
        client = nodes.client
        for name, code in (("ok", "0"), ("bad", "3")):
            await client.create(
                PODS,
                pod(
                    name,
                    restartPolicy="Never",
                    annotations={
                        "simulated.paas.dev/exit-code": code,
                        "simulated.paas.dev/run-seconds": "0.2",
                    },
                ),
                "default",
            )
        ok = await until(
            lambda: read(client, PODS, "ok", "default"),
            lambda p: p["status"]["phase"] == "Succeeded",
        )
        bad = await until(
            lambda: read(client, PODS, "bad", "default"), lambda p: p["status"]["phase"] == "Failed"
        )
        assert ok["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
        terminated = bad["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"


async def test_readiness_follows_the_ready_annotation(sqlite_api):
    async with simulated_nodes(sqlite_api, count=1) as nodes:
        client = nodes.client
        await client.create(
            PODS, pod("slow", annotations={"simulated.paas.dev/ready": "false"}), "default"
        )
        unready = await until(lambda: read(client, PODS, "slow", "default"), podstatus.is_running)
        assert condition_status(unready, "Ready") == "False"
        await client.patch(
            PODS,
            "slow",
            {"metadata": {"annotations": {"simulated.paas.dev/ready": "true"}}},
            "default",
        )
        await until(
            lambda: read(client, PODS, "slow", "default"),
            lambda p: condition_status(p, "Ready") == "True",
        )


async def test_restarted_node_adopts_its_pods_and_finishes_deletions(sqlite_api):
    async with simulated_nodes(sqlite_api, count=1) as nodes:
        client = nodes.client
        for name in ("kept", "doomed"):
            await client.create(PODS, pod(name), "default")
        ready = lambda p: condition_status(p, "Ready") == "True"  # noqa: E731
        kept = await until(lambda: read(client, PODS, "kept", "default"), ready)
        await until(lambda: read(client, PODS, "doomed", "default"), ready)
        await nodes.stop("node-0")
        await client.delete(PODS, "doomed", "default")  # graceful: waits for the node
        assert (await read(client, PODS, "doomed", "default"))["metadata"]["deletionTimestamp"]
        await client.create(PODS, pod("new"), "default")

        await nodes.start("node-0")
        await until(lambda: read(client, PODS, "doomed", "default"), lambda p: p is None)
        new = await until(lambda: read(client, PODS, "new", "default"), ready)
        after = await read(client, PODS, "kept", "default")
        assert after["status"]["podIP"] == kept["status"]["podIP"]
        assert after["status"]["startTime"] == kept["status"]["startTime"]
        assert new["status"]["podIP"] != kept["status"]["podIP"]


@pytest.mark.parametrize(
    ("annotations", "policy", "elapsed", "phase"),
    [
        ({}, "Never", 100, None),
        ({"simulated.paas.dev/exit-code": "0"}, "Always", 100, None),
        ({"simulated.paas.dev/exit-code": "0"}, "Never", 0, "Succeeded"),
        (
            {"simulated.paas.dev/exit-code": "2", "simulated.paas.dev/run-seconds": "5"},
            "Never",
            4,
            None,
        ),
        (
            {"simulated.paas.dev/exit-code": "2", "simulated.paas.dev/run-seconds": "5"},
            "Never",
            5,
            "Failed",
        ),
        ({"simulated.paas.dev/exit-code": "1"}, "OnFailure", 0, "Running"),
    ],
)
def test_planned_exit(annotations, policy, elapsed, phase):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    p = pod("x", restartPolicy=policy, annotations=annotations)
    p["metadata"]["uid"] = "u"
    p["status"] = podstatus.running_status(p, host_ip="127.0.0.1", pod_ip="10.0.0.2", now=start)
    exit_ = podstatus.planned_exit(p)
    now = start + timedelta(seconds=elapsed)
    if exit_ is None or exit_.at > now:
        assert phase is None
        return
    after = podstatus.exited_status(p, exit_)
    assert after["phase"] == phase
    if phase == "Running":
        assert after["containerStatuses"][0]["restartCount"] == 1
        assert after["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


@pytest.mark.parametrize(
    ("cidr", "used", "expected"),
    [
        ("10.244.0.0/24", [], "10.244.0.2"),
        ("10.244.0.0/24", ["10.244.0.2", "10.244.0.3"], "10.244.0.4"),
        ("10.244.0.0/30", ["10.244.0.2"], None),
    ],
)
def test_pick_pod_ip(cidr, used, expected):
    assert podstatus.pick_pod_ip(cidr, used) == expected


@pytest.mark.parametrize(
    ("annotations", "delay", "elapsed", "ready"),
    [
        ({}, 0, 0, True),
        ({}, 5, 1, False),
        ({}, 5, 6, True),
        ({"simulated.paas.dev/ready": "false"}, 0, 10, False),
    ],
)
def test_wanted_ready(annotations, delay, elapsed, ready):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    p = pod("x", annotations=annotations)
    p["spec"]["containers"][0]["readinessProbe"] = {"initialDelaySeconds": delay}
    p["status"] = podstatus.running_status(p, host_ip="h", pod_ip="i", now=start)
    assert podstatus.wanted_ready(p, start + timedelta(seconds=elapsed))[0] is ready


async def test_many_nodes_in_one_process_share_one_watch(sqlite_api):

    names = [f"sim-{i}" for i in range(5)]
    async with APIClient(sqlite_api.client_config()) as client:
        task = asyncio.create_task(
            run_simulated_nodes(client, names, SimulatedNodeSettings(lease_renew_interval=0.2))
        )
        try:
            listed = await until(
                lambda: client.list(NODES), lambda page: len(page["items"]) == len(names)
            )
            assert {n["metadata"]["name"] for n in listed["items"]} == set(names)
            for i, name in enumerate(names):
                await client.create(PODS, pod(f"p{i}", node=name), "default")
            for i, name in enumerate(names):
                running = await until(
                    lambda i=i: read(client, PODS, f"p{i}", "default"),
                    lambda p: condition_status(p, "Ready") == "True",
                )
                assert running["spec"]["nodeName"] == name
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def test_node_command_line():
    import argparse

    from paas.cli.node import add_node_parser, node_names

    parser = argparse.ArgumentParser()
    add_node_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["node", "--join", "https://127.0.0.1:6443", "--token", "t", "--name", "n", "--insecure"]
    )
    assert (args.runtime, args.count, args.insecure) == ("auto", 1, True)  # docker, else process
    assert node_names("n", 1) == ["n"]
    assert node_names("Pool", 3) == ["pool-0", "pool-1", "pool-2"]

"""Endpoints: a Service's ready and not-ready pod addresses, with named ports resolved."""

from __future__ import annotations

import pytest
from support.controlplane import controllers
from support.nodes import read, simulated_nodes, until

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.controllers.endpoints import EndpointsController, compute_subsets

PODS = BUILTIN_TYPES.by_group_kind("", "Pod")
SERVICES = BUILTIN_TYPES.by_group_kind("", "Service")
ENDPOINTS = BUILTIN_TYPES.by_group_kind("", "Endpoints")


def svc(ports, cluster_ip: str = "10.96.0.10", **spec) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "clusterIP": cluster_ip, "ports": ports, **spec},
    }


def p(
    name: str,
    ip: str | None = "10.244.0.2",
    ready: bool = True,
    ports=None,
    terminating: bool = False,
    phase: str = "Running",
) -> dict:
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}"}
    if terminating:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    status: dict = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if ip:
        status["podIP"] = ip
    return {
        "metadata": meta,
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}]},
        "status": status,
    }


def addr(name: str, ip: str) -> dict:
    return {
        "ip": ip,
        "nodeName": "n1",
        "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": f"uid-{name}"},
    }


HTTP = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}
NAMED = {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}


@pytest.mark.parametrize(
    ("service", "pods", "expected"),
    [
        pytest.param(svc([HTTP]), [], [], id="no pods"),
        pytest.param(
            svc([HTTP]),
            [p("b", "10.244.0.3"), p("a", "10.244.0.2")],
            [
                {
                    "addresses": [addr("a", "10.244.0.2"), addr("b", "10.244.0.3")],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                }
            ],
            id="ready pods sorted by ip",
        ),
        pytest.param(
            svc([HTTP]),
            [p("a", "10.244.0.2"), p("b", "10.244.0.3", ready=False)],
            [
                {
                    "addresses": [addr("a", "10.244.0.2")],
                    "notReadyAddresses": [addr("b", "10.244.0.3")],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                }
            ],
            id="not ready apart",
        ),
        pytest.param(
            svc([HTTP]),
            [
                p("a", None),
                p("b", "10.244.0.3", terminating=True),
                p("c", "10.244.0.4", phase="Succeeded"),
            ],
            [],
            id="no ip, terminating and finished pods are left out",
        ),
        pytest.param(
            svc([HTTP], publishNotReadyAddresses=True),
            [p("a", "10.244.0.2", ready=False)],
            [
                {
                    "addresses": [addr("a", "10.244.0.2")],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                }
            ],
            id="publishNotReadyAddresses",
        ),
        pytest.param(
            svc([NAMED]),
            [
                p("v1", "10.244.0.2", ports=[{"name": "web", "containerPort": 8080}]),
                p("v2", "10.244.0.3", ports=[{"name": "web", "containerPort": 9090}]),
                p("none", "10.244.0.4", ports=[{"name": "other", "containerPort": 7000}]),
            ],
            [
                {
                    "addresses": [addr("v1", "10.244.0.2")],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                },
                {
                    "addresses": [addr("v2", "10.244.0.3")],
                    "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}],
                },
            ],
            id="named target ports resolved per pod",
        ),
        pytest.param(
            svc([NAMED, {"name": "metrics", "port": 9100, "targetPort": 9100, "protocol": "TCP"}]),
            [
                p("full", "10.244.0.2", ports=[{"name": "web", "containerPort": 8080}]),
                p("part", "10.244.0.3"),
            ],
            [
                {
                    "addresses": [addr("full", "10.244.0.2")],
                    "ports": [
                        {"name": "http", "port": 8080, "protocol": "TCP"},
                        {"name": "metrics", "port": 9100, "protocol": "TCP"},
                    ],
                },
                {
                    "addresses": [addr("part", "10.244.0.3")],
                    "ports": [{"name": "metrics", "port": 9100, "protocol": "TCP"}],
                },
            ],
            id="grouped by port set",
        ),
        pytest.param(
            svc([], cluster_ip="None"),
            [p("a", "10.244.0.2")],
            [{"addresses": [addr("a", "10.244.0.2")]}],
            id="headless without ports",
        ),
        pytest.param(svc([]), [p("a", "10.244.0.2")], [], id="no ports, not headless"),
    ],
)
def test_compute_subsets(service, pods, expected):
    assert compute_subsets(service, pods) == expected


def pod(name: str, node: str, port: int, ready: bool = True) -> dict:
    annotations = {} if ready else {"simulated.paas.dev/ready": "false"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}, "annotations": annotations},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": "paas/stack:bookworm",
                    "ports": [{"name": "http", "containerPort": port}],
                }
            ],
        },
    }


def service(name: str = "web", selector: dict | None = None) -> dict:
    spec: dict = {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    if selector is not None:
        spec["selector"] = selector
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"tier": "front"}},
        "spec": spec,
    }


def addresses(ep, key: str = "addresses") -> set[tuple[str, int]]:
    out = set()
    for subset in (ep or {}).get("subsets") or []:
        for a in subset.get(key) or []:
            for port in subset.get("ports") or []:
                out.add((a["targetRef"]["name"], port["port"]))
    return out


async def test_endpoints_follow_pod_readiness_and_named_ports(api):
    async with simulated_nodes(api, count=2) as nodes, controllers(api, EndpointsController):
        client = nodes.client
        await client.create(SERVICES, service(selector={"app": "web"}), "default")
        await client.create(SERVICES, service("manual"), "default")  # no selector
        await client.create(PODS, pod("a", "node-0", 8080), "default")
        await client.create(PODS, pod("b", "node-1", 9090, ready=False), "default")

        def fetch():
            return read(client, ENDPOINTS, "web", "default")

        ep = await until(
            fetch,
            lambda e: (
                addresses(e) == {("a", 8080)} and addresses(e, "notReadyAddresses") == {("b", 9090)}
            ),
        )
        assert ep["metadata"]["labels"] == {"tier": "front"}
        assert not ep["metadata"].get("ownerReferences")
        a_pod = await read(client, PODS, "a", "default")
        entry = ep["subsets"][0]["addresses"][0]
        assert entry["ip"] == a_pod["status"]["podIP"] and entry["nodeName"] == "node-0"
        assert entry["targetRef"]["uid"] == a_pod["metadata"]["uid"]

        # b becomes ready, a becomes unready
        await client.patch(
            PODS,
            "b",
            {"metadata": {"annotations": {"simulated.paas.dev/ready": "true"}}},
            "default",
        )
        await client.patch(
            PODS,
            "a",
            {"metadata": {"annotations": {"simulated.paas.dev/ready": "false"}}},
            "default",
        )
        ep = await until(
            fetch,
            lambda e: (
                addresses(e) == {("b", 9090)} and addresses(e, "notReadyAddresses") == {("a", 8080)}
            ),
        )

        await client.create(PODS, pod("c", "node-0", 7070), "default")
        ep = await until(fetch, lambda e: ("c", 7070) in addresses(e))

        # no churn: a change that does not move any address writes nothing
        version = ep["metadata"]["resourceVersion"]
        await client.patch(SERVICES, "web", {"metadata": {"annotations": {"x": "z"}}}, "default")
        # a service created after the patch: once its Endpoints exist, web's turn has passed
        await client.create(SERVICES, service("probe", selector={"app": "web"}), "default")
        await until(lambda: read(client, ENDPOINTS, "probe", "default"), bool)
        assert (await fetch())["metadata"]["resourceVersion"] == version

        # a terminating pod leaves at once
        await nodes.stop("node-0")
        await client.delete(PODS, "c", "default")
        await until(
            fetch,
            lambda e: (
                ("c", 7070) not in addresses(e)
                and ("c", 7070) not in addresses(e, "notReadyAddresses")
            ),
        )

        assert await read(client, ENDPOINTS, "manual", "default") is None
        await client.delete(SERVICES, "web", "default")
        await until(fetch, lambda e: e is None)

"""Filters: each case is a pod, a node with what is already bound there, and the reasons."""

from __future__ import annotations

import pytest
from scheduler_objects import make_node, make_pod

from orchestrator.api.objects import Obj
from orchestrator.scheduler.filters import filter_node
from orchestrator.scheduler.nodeinfo import node_info
from orchestrator.scheduler.podinfo import pod_info


def affinity(*terms: list[Obj]) -> Obj:
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": list(t)} for t in terms]
                }
            }
        }
    }


def expr(key: str, operator: str, *values: str) -> Obj:
    return (
        {"key": key, "operator": operator, "values": list(values)}
        if values
        else {
            "key": key,
            "operator": operator,
        }
    )


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> Obj:
    return {"key": key, "value": value, "effect": effect}


def tolerate(**fields: str) -> Obj:
    return {"tolerations": [fields]}


def hostport(port: int, ip: str = "", protocol: str = "TCP") -> list[Obj]:
    return [{"containerPort": 80, "hostPort": port, "hostIP": ip, "protocol": protocol}]


ZONE_A = {"zone": "a", "disk": "ssd", "gen": "5"}
UNREACHABLE = "node.kubernetes.io/unreachable"

CASES = [
    # (id, pod, node, pods already on the node, reasons)
    ("fits", make_pod("p", cpu="1", memory="1Gi"), make_node("n"), [], []),
    ("no requests fit anywhere with room for a pod", make_pod("p"), make_node("n"), [], []),
    (
        "cpu exactly fills the node",
        make_pod("p", cpu="1"),
        make_node("n", cpu="4"),
        [make_pod("a", cpu="3", node="n")],
        [],
    ),
    (
        "cpu over by a millicore",
        make_pod("p", cpu="1001m"),
        make_node("n", cpu="4"),
        [make_pod("a", cpu="3", node="n")],
        ["Insufficient cpu"],
    ),
    (
        "cpu and memory both short",
        make_pod("p", cpu="5", memory="9Gi"),
        make_node("n"),
        [],
        ["Insufficient cpu", "Insufficient memory"],
    ),
    (
        "memory in other units",
        make_pod("p", memory="1G"),
        make_node("n", memory="1000M"),
        [make_pod("a", memory="1", node="n")],
        ["Insufficient memory"],
    ),
    (
        "pod count full",
        make_pod("p"),
        make_node("n", pods=1),
        [make_pod("a", node="n")],
        ["Too many pods"],
    ),
    (
        "an init container's request counts when larger",
        make_pod(
            "p",
            cpu="1",
            spec={
                "initContainers": [
                    {"name": "i", "image": "x", "resources": {"requests": {"cpu": "3"}}}
                ]
            },
        ),
        make_node("n", cpu="2"),
        [],
        ["Insufficient cpu"],
    ),
    (
        "an extended resource the node lacks",
        make_pod(
            "p",
            spec={
                "containers": [
                    {"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}
                ]
            },
        ),
        make_node("n"),
        [],
        ["Insufficient example.com/gpu"],
    ),
    (
        "cordoned",
        make_pod("p"),
        make_node("n", unschedulable=True),
        [],
        ["node(s) were unschedulable"],
    ),
    (
        "cordon tolerated",
        make_pod("p", spec=tolerate(key="node.kubernetes.io/unschedulable", operator="Exists")),
        make_node("n", unschedulable=True),
        [],
        [],
    ),
    ("not ready", make_pod("p"), make_node("n", ready="Unknown"), [], ["node(s) were not ready"]),
    (
        "nodeSelector matches",
        make_pod("p", spec={"nodeSelector": {"zone": "a"}}),
        make_node("n", labels=ZONE_A),
        [],
        [],
    ),
    (
        "nodeSelector misses",
        make_pod("p", spec={"nodeSelector": {"zone": "b"}}),
        make_node("n", labels=ZONE_A),
        [],
        ["node(s) didn't match Pod's node affinity/selector"],
    ),
    (
        "affinity In",
        make_pod("p", spec=affinity([expr("zone", "In", "a", "b")])),
        make_node("n", labels=ZONE_A),
        [],
        [],
    ),
    (
        "affinity NotIn",
        make_pod("p", spec=affinity([expr("zone", "NotIn", "a")])),
        make_node("n", labels=ZONE_A),
        [],
        ["node(s) didn't match Pod's node affinity/selector"],
    ),
    (
        "affinity NotIn on a missing label",
        make_pod("p", spec=affinity([expr("rack", "NotIn", "1")])),
        make_node("n", labels=ZONE_A),
        [],
        [],
    ),
    (
        "affinity Exists",
        make_pod("p", spec=affinity([expr("disk", "Exists")])),
        make_node("n", labels=ZONE_A),
        [],
        [],
    ),
    (
        "affinity DoesNotExist",
        make_pod("p", spec=affinity([expr("disk", "DoesNotExist")])),
        make_node("n", labels=ZONE_A),
        [],
        ["node(s) didn't match Pod's node affinity/selector"],
    ),
    (
        "affinity Gt",
        make_pod("p", spec=affinity([expr("gen", "Gt", "4")])),
        make_node("n", labels=ZONE_A),
        [],
        [],
    ),
    (
        "affinity Lt",
        make_pod("p", spec=affinity([expr("gen", "Lt", "5")])),
        make_node("n", labels=ZONE_A),
        [],
        ["node(s) didn't match Pod's node affinity/selector"],
    ),
    (
        "expressions in one term are ANDed",
        make_pod("p", spec=affinity([expr("zone", "In", "a"), expr("disk", "In", "hdd")])),
        make_node("n", labels=ZONE_A),
        [],
        ["node(s) didn't match Pod's node affinity/selector"],
    ),
    (
        "terms are ORed",
        make_pod("p", spec=affinity([expr("zone", "In", "b")], [expr("disk", "In", "ssd")])),
        make_node("n", labels=ZONE_A),
        [],
        [],
    ),
    (
        "untolerated NoSchedule taint",
        make_pod("p"),
        make_node("n", taints=[taint("dedicated", "db")]),
        [],
        ["node(s) had untolerated taint {dedicated: db}"],
    ),
    (
        "untolerated NoExecute taint with no value",
        make_pod("p"),
        make_node("n", taints=[taint(UNREACHABLE, effect="NoExecute")]),
        [],
        [f"node(s) had untolerated taint {{{UNREACHABLE}: }}"],
    ),
    (
        "PreferNoSchedule is not a filter",
        make_pod("p"),
        make_node("n", taints=[taint("x", effect="PreferNoSchedule")]),
        [],
        [],
    ),
    (
        "Equal toleration",
        make_pod(
            "p", spec=tolerate(key="dedicated", operator="Equal", value="db", effect="NoSchedule")
        ),
        make_node("n", taints=[taint("dedicated", "db")]),
        [],
        [],
    ),
    (
        "Equal toleration with another value",
        make_pod("p", spec=tolerate(key="dedicated", operator="Equal", value="web")),
        make_node("n", taints=[taint("dedicated", "db")]),
        [],
        ["node(s) had untolerated taint {dedicated: db}"],
    ),
    (
        "toleration for another effect",
        make_pod("p", spec=tolerate(key="dedicated", operator="Exists", effect="NoExecute")),
        make_node("n", taints=[taint("dedicated", "db")]),
        [],
        ["node(s) had untolerated taint {dedicated: db}"],
    ),
    (
        "empty key with Exists tolerates everything",
        make_pod("p", spec=tolerate(operator="Exists")),
        make_node("n", taints=[taint("a"), taint("b", "x", "NoExecute")]),
        [],
        [],
    ),
    (
        "taints are checked before resources",
        make_pod("p", cpu="100"),
        make_node("n", taints=[taint("a")]),
        [],
        ["node(s) had untolerated taint {a: }"],
    ),
    (
        "host port in use",
        make_pod("p", ports=hostport(8080)),
        make_node("n"),
        [make_pod("a", node="n", ports=hostport(8080))],
        ["node(s) didn't have free ports for the requested pod ports"],
    ),
    (
        "same host port, other protocol",
        make_pod("p", ports=hostport(53, protocol="UDP")),
        make_node("n"),
        [make_pod("a", node="n", ports=hostport(53))],
        [],
    ),
    (
        "same host port, other addresses",
        make_pod("p", ports=hostport(80, "127.0.0.2")),
        make_node("n"),
        [make_pod("a", node="n", ports=hostport(80, "127.0.0.1"))],
        [],
    ),
    (
        "a specific address against every address",
        make_pod("p", ports=hostport(80, "127.0.0.2")),
        make_node("n"),
        [make_pod("a", node="n", ports=hostport(80))],
        ["node(s) didn't have free ports for the requested pod ports"],
    ),
]


@pytest.mark.parametrize(
    ("pod", "node", "bound", "reasons"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_filter_node(pod: Obj, node: Obj, bound: list[Obj], reasons: list[str]) -> None:
    info = node_info(node, [pod_info(p) for p in bound])
    assert filter_node(pod_info(pod), info) == reasons


def test_a_node_without_a_pods_allowance_admits_none() -> None:
    node = make_node("n")
    del node["status"]["allocatable"]["pods"]
    del node["status"]["capacity"]["pods"]
    assert filter_node(pod_info(make_pod("p")), node_info(node)) == ["Too many pods"]

"""Which UDP conntrack entries a change makes stale: a table of cases."""

from __future__ import annotations

import pytest

from orchestrator.proxy.conntrack import udp_flushes
from orchestrator.proxy.rules import Endpoint, ServicePort

A, B = Endpoint("10.205.1.2", 5353), Endpoint("10.205.1.3", 5353)


def dns(*eps: Endpoint, node_port: int = 0, protocol: str = "UDP") -> ServicePort:
    return ServicePort("kube-system", "dns", "dns", protocol, "10.96.0.10", 53, node_port, 0, eps)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param([dns(A)], [dns(A)], [], id="nothing changed"),
        pytest.param(
            [dns()],
            [dns(A)],
            [("--orig-dst", "10.96.0.10", "--orig-port-dst", "53")],
            id="first endpoint: refused flows retried",
        ),
        pytest.param(
            [],
            [dns(A, node_port=30053)],
            [("--orig-dst", "10.96.0.10", "--orig-port-dst", "53"), ("--orig-port-dst", "30053")],
            id="new service with a node port",
        ),
        pytest.param(
            [dns(A, B)],
            [dns(B)],
            [("--orig-dst", "10.96.0.10", "--dst-nat", "10.205.1.2")],
            id="removed endpoint",
        ),
        pytest.param(
            [dns(A)],
            [],
            [("--orig-dst", "10.96.0.10", "--orig-port-dst", "53")],
            id="service gone",
        ),
        pytest.param([dns(A, protocol="TCP")], [dns(protocol="TCP")], [], id="TCP: never"),
    ],
)
def test_udp_flushes(
    old: list[ServicePort], new: list[ServicePort], expected: list[tuple[str, ...]]
) -> None:
    assert udp_flushes(old, new) == expected

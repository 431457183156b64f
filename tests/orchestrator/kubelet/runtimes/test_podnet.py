"""Pod networking of the process runtime: names, address ranges, and (as root) real netns."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engines import require_engine
from test_process import free_pod_cidr

from orchestrator.kubelet import podnet


def test_names_fit_the_kernel_limit_and_carry_the_prefix() -> None:
    for node in ("n", "a-very-long-node-name-that-goes-on.example.com"):
        for name in (podnet.bridge_name(node), podnet.veth_name(node, str(uuid.uuid4()))):
            assert name.startswith("paas") and len(name) <= 15
        assert podnet.netns_name(node, "uid").startswith(podnet.netns_prefix(node))
    assert podnet.bridge_name("one") != podnet.bridge_name("two")
    assert podnet.bridge_name("one") == podnet.bridge_name("one")


def test_loopback_ranges_stay_clear_of_the_node_and_cluster_addresses() -> None:
    for i in range(200):
        net = podnet.loopback_range(f"node-{i}")
        assert net.prefixlen == 24 and net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8"))
        assert not net.subnet_of(ipaddress.IPv4Network("127.0.0.0/16"))
        assert not net.subnet_of(ipaddress.IPv4Network("127.10.0.0/16"))


def test_allocation_takes_the_lowest_free_address_past_the_gateway() -> None:
    net = ipaddress.IPv4Network("10.201.3.0/24")
    assert podnet.allocate_ip(net, []) == "10.201.3.2"
    assert podnet.allocate_ip(net, ["10.201.3.2", "10.201.3.4"]) == "10.201.3.3"
    full = [str(h) for h in net.hosts()]
    with pytest.raises(
        podnet.PodNetworkError, match=re.escape("no free pod address left in 10.201.3.0/24")
    ):
        podnet.allocate_ip(net, full)


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def node() -> Iterator[str]:
    require_engine("root", os.geteuid() == 0, "needs root (netns, bridge, iptables)")
    name = f"nettest-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        podnet.cleanup_node(name)


@pytest.mark.root
def test_bridge_netns_veth_rules_and_cleanup(node: str) -> None:
    cidr = free_pod_cidr()
    net = podnet.BridgeNetwork(node)
    net.setup(cidr)
    gateway = str(next(ipaddress.IPv4Network(cidr).hosts()))
    assert f"inet {gateway}/24" in _ip("-4", "addr", "show", "dev", net.bridge)
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    assert rules.count(f"paas:{net.bridge}") == 2
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"

    kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
    ip = podnet.allocate_ip(net.pool(), [])
    attached = net.attach(kept, ip)
    assert attached == net.attach(kept, ip)  # idempotent
    ns = podnet.netns_name(node, kept)
    assert attached.netns == f"/run/netns/{ns}"
    assert f"inet {ip}/24" in _ip("-n", ns, "-4", "addr", "show", "dev", "eth0")
    assert f"default via {gateway}" in _ip("-n", ns, "route")
    assert "UP" in _ip("-n", ns, "link", "show", "lo")
    veth = podnet.veth_name(node, kept)
    assert f"master {net.bridge}" in _ip("-o", "link", "show", "dev", veth)
    assert "hairpin on" in _ip("-d", "link", "show", "dev", veth)
    net.attach(dropped, podnet.allocate_ip(net.pool(), [ip]))

    # a restarted agent keeps the namespaces of pods still running, and only those
    podnet.BridgeNetwork(node).setup(cidr, keep=[kept])
    assert podnet.node_netns(node) == [ns]
    assert net.healthy(kept) and not net.healthy(dropped)

    net.detach(kept)
    assert podnet.node_netns(node) == []
    net.attach(kept, ip)
    podnet.cleanup_node(node)
    assert podnet.node_netns(node) == []
    links = _ip("-o", "link", "show")
    assert net.bridge not in links and veth not in links
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    assert f"paas:{net.bridge}" not in rules


@pytest.mark.root
def test_root_mode_without_a_pod_cidr_waits_for_one(node: str) -> None:
    net = podnet.BridgeNetwork(node)
    net.setup("")
    assert net.bridge not in _ip("-o", "link", "show")
    with pytest.raises(podnet.PodNetworkError, match=re.escape("no spec.podCIDR yet")):
        net.pool()

"""Both service proxies, one suite: what a client of a cluster IP or a node port sees.

- ``iptables`` (root mode): two backends (``BACKEND``: HTTP, and TCP and
  UDP echoes, each answering with its name) run in network namespaces of the test's own on
  a bridge of its own (``paasprx*``), and the real kernel does the work; the
  module checks that no PAAS- rule is left behind.
- ``userspace`` (loopback mode): the same backends on 127.206.x addresses,
  cluster IPs from 127.10.0.0/16, relayed by the proxy itself; no root.

Services are created through a real API server (cluster IPs and node ports
allocated by it) and their Endpoints written by hand (support/proxynet.py).
What only the userspace proxy does is in test_userspace.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.engines import require_engine
from support.proxynet import (
    ECHO_PORTS,
    UDP_PORT,
    WEB_PORT,
    Net,
    Proxy,
    answers,
    ask,
    connect,
    connected,
    echo_service,
    make_service,
    running_proxy,
    set_endpoints,
    start_backend,
    udp_ask,
    wait_backends,
)
from support.wait import eventually_async

from orchestrator.netfilter.localnet import ROUTE_LOCALNET
from orchestrator.proxy import kernel


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


def free_subnet() -> int:
    routes = sh("ip", "-4", "route", "show").stdout
    for third in random.sample(range(1, 255), 254):
        if f"10.205.{third}." not in routes:
            return third
    raise RuntimeError("no free /24 in 10.205.0.0/16")


@pytest.fixture(scope="module")
def root_net() -> Iterator[Net]:
    require_engine("root", os.geteuid() == 0, "the root-mode proxy needs root")
    require_engine("iptables", bool(shutil.which("iptables-restore")), "needs iptables-restore")
    tag = secrets.token_hex(2)
    bridge, third = f"paasprx{tag}", free_subnet()
    gateway = f"10.205.{third}.1"
    localnet = ROUTE_LOCALNET.read_text()
    made: list[tuple[str, str]] = []
    servers: list[subprocess.Popen[bytes]] = []
    try:
        sh("ip", "link", "add", bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{gateway}/24", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
        backends: dict[str, str] = {}
        for i, name in enumerate(("a", "b")):
            ns, veth, ip = (
                f"paas-prx-{tag}-{name}",
                f"paasprxv{tag}{name}",
                f"10.205.{third}.{i + 2}",
            )
            sh("ip", "netns", "add", ns)
            made.append((ns, veth))
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", veth, "master", bridge, "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "route", "add", "default", "via", gateway)
            servers.append(start_backend(name, ip, netns=ns))
            backends[name] = ip
        wait_backends(backends)
        yield Net(backends, ("127.0.0.1", gateway), "10.96.255.254", bridge)
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
        for ns, veth in made:
            sh("ip", "link", "del", veth, check=False)
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", bridge, check=False)
        kernel.remove_all()
        ROUTE_LOCALNET.write_text(localnet)
        assert "PAAS-" not in sh("iptables-save").stdout, "a PAAS- rule was left behind"


MODES = [pytest.param("iptables", marks=pytest.mark.root), "userspace"]


@pytest.fixture(params=MODES)
async def proxy(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Proxy]:
    mode = request.param
    net: Net = request.getfixturevalue("root_net" if mode == "iptables" else "loopback_net")
    async with running_proxy(mode, net, tmp_path / "api") as running:
        yield running
    if mode == "iptables":
        assert "PAAS-" not in sh("iptables-save").stdout, "cleanup left a PAAS- rule"


async def test_cluster_ip_round_robin_and_endpoint_removal(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    svc = await make_service(client, "web")
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "web", list(net.backends.values()))

    async def both() -> bool:
        return set(await answers(ip, WEB_PORT, 20)) == {"a", "b"}

    await eventually_async(both, 5, f"both backends behind {ip}:{WEB_PORT}")
    removed = time.monotonic()
    await set_endpoints(client, "web", [net.backends["b"]])

    async def only_b() -> bool:
        return set(await answers(ip, WEB_PORT, 10)) == {"b"}

    await eventually_async(only_b, 2, "the removed endpoint still gets new connections")
    assert time.monotonic() - removed < 1.0
    assert set(await answers(ip, WEB_PORT, 20)) == {"b"}


async def test_no_ready_endpoint_is_refused_at_once(proxy: Proxy) -> None:
    client = proxy.client
    svc = await make_service(client, "empty")
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "empty", [])

    async def refused() -> bool:
        return (await answers(ip, WEB_PORT, 1)) == ["ConnectionRefusedError"]

    await eventually_async(refused, 2, f"{ip}:{WEB_PORT} with no endpoint is not refused")
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, WEB_PORT), timeout=3).close()
    assert time.monotonic() - started < 0.5


async def test_an_address_of_no_service_is_refused_at_once(proxy: Proxy) -> None:
    """A cluster IP the proxy has no rule for (yet) is refused, not 'No route to host' in ~3 s."""
    net = proxy.net
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((net.unused_ip, WEB_PORT), timeout=5).close()
    assert time.monotonic() - started < 0.5


async def test_node_port_on_localhost_and_node_address(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    svc = await make_service(client, "np", type="NodePort")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    await set_endpoints(client, "np", [net.backends["a"]])

    async def via_localhost() -> bool:
        return (await answers("127.0.0.1", node_port, 1)) == ["a"]

    await eventually_async(via_localhost, 3, f"127.0.0.1:{node_port} does not reach the backend")
    for address in net.node_addresses:
        assert await answers(address, node_port, 3) == ["a"] * 3


async def test_client_ip_affinity_sticks(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    svc = await make_service(
        client,
        "sticky",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
    )
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "sticky", list(net.backends.values()))

    async def served() -> list[str]:
        got = await answers(ip, WEB_PORT, 1)
        return got if got[0] in ("a", "b") else []

    first = (await eventually_async(served, 3, f"{ip}:{WEB_PORT} never answered"))[0]
    assert set(await answers(ip, WEB_PORT, 20)) == {first}


async def test_udp_reaches_a_backend(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    ports = [{"name": "dns", "port": UDP_PORT, "protocol": "UDP"}]
    svc = await make_service(client, "dns", ports=ports)
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "dns", [net.backends["b"]], [{**ports[0], "port": 5353}])

    async def answered() -> bool:
        return await asyncio.to_thread(udp_ask, ip, UDP_PORT) == "b"

    await eventually_async(answered, 3, f"UDP {ip}:{UDP_PORT} does not reach the backend")


async def test_a_removed_endpoint_drains_its_open_connections(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    ip = await echo_service(client, "echo", net.backends["a"])
    held = await connected(ip, 7000)
    try:
        assert await asyncio.to_thread(ask, held) == "a"
        await set_endpoints(client, "echo", [net.backends["b"]], ECHO_PORTS)

        async def new_ones_go_to_b() -> bool:
            conn = await asyncio.to_thread(connect, ip, 7000)
            if conn is None:
                return False
            with conn:
                return await asyncio.to_thread(ask, conn) == "b"

        await eventually_async(new_ones_go_to_b, 2, "new connections still reach the old endpoint")
        assert await asyncio.to_thread(ask, held) == "a", "the open connection was cut"
    finally:
        held.close()


async def test_a_kept_udp_socket_follows_an_endpoint_change(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    """Without deleting the stale conntrack entry, the flow would stay on the old endpoint."""
    require_engine("conntrack", bool(shutil.which("conntrack")), "needs the conntrack tool")
    ports = [{"name": "dns", "port": UDP_PORT, "protocol": "UDP"}]
    svc = await make_service(client, "kept", ports=ports)
    ip = svc["spec"]["clusterIP"]
    target = [{**ports[0], "port": 5353}]
    await set_endpoints(client, "kept", [net.backends["a"]], target)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)

        def ask() -> str:
            try:  # EPERM until the first sync has the service's rules
                sock.sendto(b"who", (ip, UDP_PORT))
                return sock.recv(100).decode()
            except OSError as exc:
                return type(exc).__name__

        async def answers_with(name: str) -> bool:
            return await asyncio.to_thread(ask) == name

        await eventually_async(lambda: answers_with("a"), 3, f"UDP {ip}:{UDP_PORT} never reached a")
        changed = time.monotonic()
        await set_endpoints(client, "kept", [net.backends["b"]], target)
        await eventually_async(
            lambda: answers_with("b"), 3, "the kept socket still reaches the old endpoint"
        )
        assert time.monotonic() - changed < 1.5

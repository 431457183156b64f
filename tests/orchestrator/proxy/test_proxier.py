"""The root-mode proxy against a real API server, real netns backends and the real kernel.

Two ``python3 -m http.server`` backends run in network namespaces of the
test's own on a bridge of its own (``paasprx*``); Services are created
through the API (cluster IPs and NodePorts allocated by the server) and
their Endpoints written by hand. Everything is removed at the end, and the
module checks that no PAAS- rule is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support.apiserver import RunningAPI
from support.engines import require_engine
from support.wait import eventually, eventually_async, wait_until

from orchestrator.api import errors
from orchestrator.client.rest import APIClient
from orchestrator.proxy import kernel
from orchestrator.proxy.proxier import ENDPOINTS, SERVICES, IptablesProxier, ProxySettings

pytestmark = pytest.mark.root
Obj = dict[str, Any]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


@dataclass(frozen=True)
class Net:
    bridge: str
    gateway: str
    backends: dict[str, str]  # name -> pod IP


ECHO = """
import socket, sys, threading
name = sys.argv[1].encode()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("", 5353))
def answer():
    while True:
        _, peer = udp.recvfrom(100)
        udp.sendto(name, peer)
threading.Thread(target=answer, daemon=True).start()
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("", 7000))
tcp.listen()
def serve(conn):
    with conn:
        while conn.recv(100):
            conn.sendall(name)
while True:
    conn, _ = tcp.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def udp_ask(ip: str, port: int, timeout: float = 1.0) -> str:
    """The name of the backend that answered one datagram from a fresh socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:  # before its first sync, a cluster IP is refused at send (EPERM)
            sock.sendto(b"who", (ip, port))
            return sock.recv(100).decode()
        except OSError as exc:
            return type(exc).__name__


def free_subnet() -> int:
    routes = sh("ip", "-4", "route", "show").stdout
    for third in random.sample(range(1, 255), 254):
        if f"10.205.{third}." not in routes:
            return third
    raise RuntimeError("no free /24 in 10.205.0.0/16")


def get(ip: str, port: int, timeout: float = 2.0) -> str:
    """The name of the backend that answered (a fresh connection every time)."""
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request("GET", "/name.txt")
        return conn.getresponse().read().decode().strip()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    require_engine("root", os.geteuid() == 0, "the root-mode proxy needs root")
    require_engine("iptables", bool(shutil.which("iptables-restore")), "needs iptables-restore")
    tag = secrets.token_hex(2)
    bridge, third = f"paasprx{tag}", free_subnet()
    gateway = f"10.205.{third}.1"
    localnet = kernel.ROUTE_LOCALNET.read_text()
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
            root = tmp_path_factory.mktemp(f"backend-{name}")
            (root / "name.txt").write_text(name)
            servers.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns,
                        "python3",
                        "-m",
                        "http.server",
                        "8000",
                        "--directory",
                        str(root),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            servers.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", ns, sys.executable, "-c", ECHO, name],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            backends[name] = ip
        for name, ip in backends.items():
            wait_until(lambda ip=ip, name=name: _answers(ip, name), 10, f"backend {name} at {ip}")
            wait_until(lambda ip=ip, name=name: udp_ask(ip, 5353) == name, 10, f"UDP {name}")
        yield Net(bridge, gateway, backends)
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
        for ns, veth in made:
            sh("ip", "link", "del", veth, check=False)
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", bridge, check=False)
        kernel.remove_all()
        kernel.ROUTE_LOCALNET.write_text(localnet)
        assert "PAAS-" not in sh("iptables-save").stdout, "a PAAS- rule was left behind"


def _answers(ip: str, name: str) -> bool:
    try:
        return get(ip, 8000, timeout=0.5) == name
    except OSError:
        return False


@pytest.fixture
async def proxy(net: Net, sqlite_api: RunningAPI) -> AsyncIterator[APIClient]:
    """A proxier running in this loop; yields an API client to write Services with."""
    settings = ProxySettings(bridge=net.bridge, coalesce=0.05, cleanup_on_exit=True)
    async with APIClient(sqlite_api.client_config()) as client:
        proxier = IptablesProxier(client, settings)
        task = asyncio.create_task(proxier.run())
        try:
            await eventually(lambda: proxier.syncs > 0 or task.done(), 10, "first sync")
            assert not task.done(), task.exception()
            yield client
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert "PAAS-" not in sh("iptables-save").stdout


async def make_service(client: APIClient, name: str, **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8000}])
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}
    return await client.create(SERVICES, body, "default")


HTTP_PORTS = [{"name": "http", "port": 8000, "protocol": "TCP"}]


async def set_endpoints(
    client: APIClient, name: str, ips: list[str], ports: list[Obj] = HTTP_PORTS
) -> None:
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": ports}] if ips else [],
    }
    try:
        current = await client.get(ENDPOINTS, name, "default")
    except errors.NotFound:
        await client.create(ENDPOINTS, body, "default")
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await client.replace(ENDPOINTS, body, "default")


async def answers(ip: str, port: int, count: int) -> list[str]:
    def many() -> list[str]:
        result = []
        for _ in range(count):
            try:
                result.append(get(ip, port, timeout=1.0))
            except OSError as exc:
                result.append(type(exc).__name__)
        return result

    return await asyncio.to_thread(many)


async def poll(check: Any, timeout: float, message: str) -> Any:
    """Await ``check()`` until it is truthy, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, message


async def test_cluster_ip_round_robin_and_endpoint_removal(proxy: APIClient, net: Net) -> None:
    svc = await make_service(proxy, "web")
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(proxy, "web", list(net.backends.values()))

    async def both() -> bool:
        return set(await answers(ip, 80, 20)) == {"a", "b"}

    await poll(both, 5, f"both backends behind {ip}:80")
    removed = time.monotonic()
    await set_endpoints(proxy, "web", [net.backends["b"]])

    async def only_b() -> bool:
        return set(await answers(ip, 80, 10)) == {"b"}

    await poll(only_b, 2, "the removed endpoint still gets new connections")
    assert time.monotonic() - removed < 1.0
    assert set(await answers(ip, 80, 20)) == {"b"}


async def test_no_ready_endpoint_is_refused_at_once(proxy: APIClient, net: Net) -> None:
    svc = await make_service(proxy, "empty")
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(proxy, "empty", [])

    async def refused() -> bool:
        return (await answers(ip, 80, 1)) == ["ConnectionRefusedError"]

    await poll(refused, 2, f"{ip}:80 with no endpoint is not refused")
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, 80), timeout=3).close()
    assert time.monotonic() - started < 0.5


async def test_an_address_of_no_service_is_refused_at_once(proxy: APIClient, net: Net) -> None:
    """A cluster IP the proxy has no rule for (yet) is refused, not 'No route to host' in ~3 s."""
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("10.96.255.254", 80), timeout=5).close()
    assert time.monotonic() - started < 0.5


async def test_node_port_on_localhost_and_node_address(proxy: APIClient, net: Net) -> None:
    svc = await make_service(proxy, "np", type="NodePort")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    await set_endpoints(proxy, "np", [net.backends["a"]])

    async def via_localhost() -> bool:
        return (await answers("127.0.0.1", node_port, 1)) == ["a"]

    await poll(via_localhost, 3, f"127.0.0.1:{node_port} does not reach the backend")
    assert await answers(net.gateway, node_port, 3) == ["a"] * 3


async def test_client_ip_affinity_sticks(proxy: APIClient, net: Net) -> None:
    svc = await make_service(
        proxy,
        "sticky",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
    )
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(proxy, "sticky", list(net.backends.values()))

    async def served() -> list[str]:
        got = await answers(ip, 80, 1)
        return got if got[0] in ("a", "b") else []

    first = (await poll(served, 3, f"{ip}:80 never answered"))[0]
    assert set(await answers(ip, 80, 20)) == {first}


async def test_udp_reaches_a_backend(proxy: APIClient, net: Net) -> None:
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    svc = await make_service(proxy, "dns", ports=ports)
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(proxy, "dns", [net.backends["b"]], [{**ports[0], "port": 5353}])

    async def answered() -> bool:
        return await asyncio.to_thread(udp_ask, ip, 53) == "b"

    await poll(answered, 3, f"UDP {ip}:53 does not reach the backend")


async def test_a_removed_endpoint_drains_its_open_connections(proxy: APIClient, net: Net) -> None:
    ports = [{"name": "echo", "port": 7000, "protocol": "TCP"}]
    svc = await make_service(proxy, "echo", ports=ports)
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(proxy, "echo", [net.backends["a"]], ports)

    def ask(conn: socket.socket) -> str:
        conn.sendall(b"who")
        return conn.recv(100).decode()

    def connect() -> socket.socket | None:
        try:
            return socket.create_connection((ip, 7000), timeout=1)
        except OSError:
            return None

    held = await eventually_async(lambda: asyncio.to_thread(connect), 3, f"{ip}:7000 refused")
    try:
        assert await asyncio.to_thread(ask, held) == "a"
        await set_endpoints(proxy, "echo", [net.backends["b"]], ports)

        async def new_ones_go_to_b() -> bool:
            conn = await asyncio.to_thread(connect)
            if conn is None:
                return False
            with conn:
                return await asyncio.to_thread(ask, conn) == "b"

        await poll(new_ones_go_to_b, 2, "new connections still reach the removed endpoint")
        assert await asyncio.to_thread(ask, held) == "a", "the open connection was cut"
    finally:
        held.close()


async def test_a_kept_udp_socket_follows_an_endpoint_change(proxy: APIClient, net: Net) -> None:
    """Without deleting the stale conntrack entry, the flow would stay on the old endpoint."""
    require_engine("conntrack", bool(shutil.which("conntrack")), "needs the conntrack tool")
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    svc = await make_service(proxy, "kept", ports=ports)
    ip = svc["spec"]["clusterIP"]
    target = [{**ports[0], "port": 5353}]
    await set_endpoints(proxy, "kept", [net.backends["a"]], target)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)

        def ask() -> str:
            try:  # EPERM until the first sync has the service's rules
                sock.sendto(b"who", (ip, 53))
                return sock.recv(100).decode()
            except OSError as exc:
                return type(exc).__name__

        async def answers_with(name: str) -> bool:
            return await asyncio.to_thread(ask) == name

        await poll(lambda: answers_with("a"), 3, f"UDP {ip}:53 never reached a")
        changed = time.monotonic()
        await set_endpoints(proxy, "kept", [net.backends["b"]], target)
        await poll(lambda: answers_with("b"), 3, "the kept socket still reaches the old endpoint")
        assert time.monotonic() - changed < 1.5

"""Both service proxies, one suite: what a client of a cluster IP or a node port sees.

- ``iptables`` (root mode): two backends (``BACKEND``: HTTP, and TCP and
  UDP echoes, each answering with its name) run in network namespaces of the test's own on
  a bridge of its own (``paasprx*``), and the real kernel does the work; the
  module checks that no PAAS- rule is left behind.
- ``userspace`` (loopback mode): the same backends on 127.206.x addresses,
  cluster IPs from 127.10.0.0/16, relayed by the proxy itself; no root.

Services are created through a real API server (cluster IPs and node ports
allocated by it) and their Endpoints written by hand.
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
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import start_api
from support.engines import require_engine
from support.wait import eventually, eventually_async, wait_until

from orchestrator.api import errors
from orchestrator.client.rest import APIClient
from orchestrator.proxy import kernel
from orchestrator.proxy.feed import ENDPOINTS, SERVICES, FeedSettings
from orchestrator.proxy.proxier import IptablesProxier, ProxySettings
from orchestrator.proxy.userspace import UserspaceProxier, UserspaceSettings

SERVICE_CIDRS = {"iptables": "10.96.0.0/16", "userspace": "127.10.0.0/16"}
Obj = dict[str, Any]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


@dataclass(frozen=True)
class Net:
    backends: dict[str, str]  # name -> pod IP
    node_addresses: tuple[str, ...]  # where node ports answer
    unused_ip: str  # an address in the service range that no Service has
    bridge: str = ""  # root mode: the node bridge


@dataclass(frozen=True)
class Proxy:
    client: APIClient
    net: Net
    proxier: IptablesProxier | UserspaceProxier


BACKEND = """
import http.server, socket, socketserver, sys, threading
name, address = sys.argv[1].encode(), sys.argv[2]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((address, 5353))
def answer():
    while True:
        _, peer = udp.recvfrom(100)
        udp.sendto(name, peer)
threading.Thread(target=answer, daemon=True).start()
class Name(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
    def log_message(self, *args):
        pass
# socketserver's own server: http.server's looks up its address's host name (a DNS wait).
web = socketserver.ThreadingTCPServer((address, 8000), Name)
threading.Thread(target=web.serve_forever, daemon=True).start()
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((address, 7000))
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
def root_net() -> Iterator[Net]:
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
            servers.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", ns, sys.executable, "-c", BACKEND, name, ip],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            backends[name] = ip
        for name, ip in backends.items():
            wait_until(lambda ip=ip, name=name: _answers(ip, name), 10, f"backend {name} at {ip}")
            wait_until(lambda ip=ip, name=name: udp_ask(ip, 5353) == name, 10, f"UDP {name}")
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
        kernel.ROUTE_LOCALNET.write_text(localnet)
        assert "PAAS-" not in sh("iptables-save").stdout, "a PAAS- rule was left behind"


@pytest.fixture(scope="module")
def loopback_net() -> Iterator[Net]:
    """The same backends on loopback addresses of their own (127.206.x.2 and .3)."""
    base = f"127.206.{random.randrange(1, 255)}"
    servers: list[subprocess.Popen[bytes]] = []
    backends = {"a": f"{base}.2", "b": f"{base}.3"}
    try:
        for name, ip in backends.items():
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-c", BACKEND, name, ip],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for name, ip in backends.items():
            wait_until(lambda ip=ip, name=name: _answers(ip, name), 10, f"backend {name} at {ip}")
            wait_until(lambda ip=ip, name=name: udp_ask(ip, 5353) == name, 10, f"UDP {name}")
        yield Net(backends, ("127.0.0.1",), "127.10.255.254")
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()


def _answers(ip: str, name: str) -> bool:
    try:
        return get(ip, 8000, timeout=0.5) == name
    except OSError:
        return False


MODES = [pytest.param("iptables", marks=pytest.mark.root), "userspace"]


@contextlib.asynccontextmanager
async def running_proxy(mode: str, net: Net, data_dir: Path) -> AsyncIterator[Proxy]:
    """A proxier of ``mode`` running in this loop, with an API client to write Services."""
    api = start_api(data_dir, service_cidr=SERVICE_CIDRS[mode])
    try:
        async with APIClient(api.client_config()) as client:
            proxier: IptablesProxier | UserspaceProxier
            if mode == "iptables":
                settings = ProxySettings(bridge=net.bridge, coalesce=0.05, cleanup_on_exit=True)
                proxier = IptablesProxier(client, settings)
            else:
                proxier = UserspaceProxier(
                    client, UserspaceSettings(feed=FeedSettings(coalesce=0.05, retry_interval=0.2))
                )
            task = asyncio.create_task(proxier.run())
            try:
                await eventually(lambda: proxier.syncs > 0 or task.done(), 10, "first sync")
                assert not task.done(), task.exception()
                yield Proxy(client, net, proxier)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        api.stop()
    if mode == "iptables":
        assert "PAAS-" not in sh("iptables-save").stdout


@pytest.fixture(params=MODES)
async def proxy(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Proxy]:
    mode = request.param
    net: Net = request.getfixturevalue("root_net" if mode == "iptables" else "loopback_net")
    async with running_proxy(mode, net, tmp_path / "api") as running:
        yield running


@pytest.fixture
async def userspace(loopback_net: Net, tmp_path: Path) -> AsyncIterator[Proxy]:
    async with running_proxy("userspace", loopback_net, tmp_path / "api") as running:
        yield running


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


async def test_cluster_ip_round_robin_and_endpoint_removal(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    svc = await make_service(client, "web")
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "web", list(net.backends.values()))

    async def both() -> bool:
        return set(await answers(ip, 80, 20)) == {"a", "b"}

    await poll(both, 5, f"both backends behind {ip}:80")
    removed = time.monotonic()
    await set_endpoints(client, "web", [net.backends["b"]])

    async def only_b() -> bool:
        return set(await answers(ip, 80, 10)) == {"b"}

    await poll(only_b, 2, "the removed endpoint still gets new connections")
    assert time.monotonic() - removed < 1.0
    assert set(await answers(ip, 80, 20)) == {"b"}


async def test_no_ready_endpoint_is_refused_at_once(proxy: Proxy) -> None:
    client = proxy.client
    svc = await make_service(client, "empty")
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "empty", [])

    async def refused() -> bool:
        return (await answers(ip, 80, 1)) == ["ConnectionRefusedError"]

    await poll(refused, 2, f"{ip}:80 with no endpoint is not refused")
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, 80), timeout=3).close()
    assert time.monotonic() - started < 0.5


async def test_an_address_of_no_service_is_refused_at_once(proxy: Proxy) -> None:
    """A cluster IP the proxy has no rule for (yet) is refused, not 'No route to host' in ~3 s."""
    net = proxy.net
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((net.unused_ip, 80), timeout=5).close()
    assert time.monotonic() - started < 0.5


async def test_node_port_on_localhost_and_node_address(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    svc = await make_service(client, "np", type="NodePort")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    await set_endpoints(client, "np", [net.backends["a"]])

    async def via_localhost() -> bool:
        return (await answers("127.0.0.1", node_port, 1)) == ["a"]

    await poll(via_localhost, 3, f"127.0.0.1:{node_port} does not reach the backend")
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
        got = await answers(ip, 80, 1)
        return got if got[0] in ("a", "b") else []

    first = (await poll(served, 3, f"{ip}:80 never answered"))[0]
    assert set(await answers(ip, 80, 20)) == {first}


async def test_udp_reaches_a_backend(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    svc = await make_service(client, "dns", ports=ports)
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "dns", [net.backends["b"]], [{**ports[0], "port": 5353}])

    async def answered() -> bool:
        return await asyncio.to_thread(udp_ask, ip, 53) == "b"

    await poll(answered, 3, f"UDP {ip}:53 does not reach the backend")


async def test_a_removed_endpoint_drains_its_open_connections(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    ports = [{"name": "echo", "port": 7000, "protocol": "TCP"}]
    svc = await make_service(client, "echo", ports=ports)
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "echo", [net.backends["a"]], ports)

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
        await set_endpoints(client, "echo", [net.backends["b"]], ports)

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


async def test_a_kept_udp_socket_follows_an_endpoint_change(proxy: Proxy) -> None:
    client, net = proxy.client, proxy.net
    """Without deleting the stale conntrack entry, the flow would stay on the old endpoint."""
    require_engine("conntrack", bool(shutil.which("conntrack")), "needs the conntrack tool")
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    svc = await make_service(client, "kept", ports=ports)
    ip = svc["spec"]["clusterIP"]
    target = [{**ports[0], "port": 5353}]
    await set_endpoints(client, "kept", [net.backends["a"]], target)
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
        await set_endpoints(client, "kept", [net.backends["b"]], target)
        await poll(lambda: answers_with("b"), 3, "the kept socket still reaches the old endpoint")
        assert time.monotonic() - changed < 1.5


# -- what only the userspace proxy does --------------------------------------------------------


async def test_userspace_falls_through_a_refusing_endpoint(userspace: Proxy) -> None:
    client, net = userspace.client, userspace.net
    svc = await make_service(client, "half")
    ip = svc["spec"]["clusterIP"]
    dead = net.backends["a"].rsplit(".", 1)[0] + ".9"  # nothing listens there
    await set_endpoints(client, "half", [dead, net.backends["a"]])

    async def served() -> bool:
        return set(await answers(ip, 80, 10)) == {"a"}

    await poll(served, 3, "connections meeting the dead endpoint were not retried")


async def test_userspace_retries_a_port_it_could_not_bind(userspace: Proxy) -> None:
    client, net = userspace.client, userspace.net
    proxier = userspace.proxier
    assert isinstance(proxier, UserspaceProxier)
    svc = await make_service(client, "taken")
    ip = svc["spec"]["clusterIP"]
    squatter = socket.socket()
    squatter.bind((ip, 80))
    squatter.listen()
    try:
        syncs = proxier.syncs
        await set_endpoints(client, "taken", [net.backends["b"]])
        await eventually(lambda: proxier.syncs > syncs, 3, "no sync after the endpoints")
        assert ("TCP", ip, 80) not in proxier.listening()
    finally:
        squatter.close()

    async def served() -> bool:
        return await answers(ip, 80, 1) == ["b"]

    await poll(served, 3, "the freed port was not taken up again")


async def test_userspace_deleted_service_refuses_new_connections_and_drains(
    userspace: Proxy,
) -> None:
    client, net = userspace.client, userspace.net
    ports = [{"name": "echo", "port": 7000, "protocol": "TCP"}]
    svc = await make_service(client, "going", ports=ports)
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "going", [net.backends["a"]], ports)
    held = await eventually_async(
        lambda: asyncio.to_thread(_connect, ip, 7000), 3, f"{ip}:7000 refused"
    )
    try:
        assert await asyncio.to_thread(_ask, held) == "a"
        await client.delete(SERVICES, "going", "default")

        async def refused() -> bool:
            conn = await asyncio.to_thread(_connect, ip, 7000)
            if conn is not None:
                conn.close()
            return conn is None

        await poll(refused, 3, "the deleted service still accepts connections")
        assert await asyncio.to_thread(_ask, held) == "a", "the open connection was cut"
    finally:
        held.close()


def _connect(ip: str, port: int) -> socket.socket | None:
    try:
        return socket.create_connection((ip, port), timeout=1)
    except OSError:
        return None


def _ask(conn: socket.socket) -> str:
    conn.sendall(b"who")
    return conn.recv(100).decode()

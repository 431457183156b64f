"""Service proxy tests: backends that answer with their name, and the Services in front of them.

Both proxies (``IptablesProxier`` in root mode, ``UserspaceProxier`` in
loopback mode) are tested by what a client sees: which backend answered a
fresh connection to a cluster IP or node port. ``BACKEND`` is that backend:
HTTP on 8000 (keep-alive; a POST's body is sent back), a TCP echo of its
name on 7000 and a UDP one on 5353. Services go through a real API server
(cluster IPs and node ports allocated by it); their Endpoints are written
by hand, as there is no pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.client.rest import APIClient
from orchestrator.proxy.feed import ENDPOINTS, SERVICES, FeedSettings
from orchestrator.proxy.proxier import IptablesProxier, ProxySettings
from orchestrator.proxy.userspace import UserspaceProxier, UserspaceSettings
from support.apiserver import start_api
from support.wait import eventually, eventually_async, wait_until

SERVICE_CIDRS = {"iptables": "10.96.0.0/16", "userspace": "127.10.0.0/16"}
# Service ports above 1023: the userspace proxy binds them, and without root it may not bind
# lower ones (net.ipv4.ip_unprivileged_port_start); kernel DNAT does not mind either way.
WEB_PORT, UDP_PORT = 8080, 5300


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
    protocol_version = "HTTP/1.1"  # keep-alive
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
    def do_POST(self):  # the body back, for bulk transfers
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
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


def get(ip: str, port: int, timeout: float = 2.0) -> str:
    """The name of the backend that answered (a fresh connection every time)."""
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request("GET", "/name.txt")
        return conn.getresponse().read().decode().strip()
    finally:
        conn.close()


def backend_answers(ip: str, name: str) -> bool:
    try:
        return get(ip, 8000, timeout=0.5) == name
    except OSError:
        return False


def connect(ip: str, port: int) -> socket.socket | None:
    """A connection to the TCP echo, or None when it is refused or times out."""
    try:
        return socket.create_connection((ip, port), timeout=1)
    except OSError:
        return None


async def connected(ip: str, port: int, timeout: float = 3.0) -> socket.socket:
    """A connection to the TCP echo once it accepts one (a sync may still be coming)."""
    conn = await eventually_async(
        lambda: asyncio.to_thread(connect, ip, port), timeout, f"{ip}:{port} refused"
    )
    assert conn is not None
    return conn


def ask(conn: socket.socket) -> str:
    """The name the TCP echo at the other end of ``conn`` answers with."""
    conn.sendall(b"who")
    return conn.recv(100).decode()


def start_backend(name: str, ip: str, netns: str = "") -> subprocess.Popen[bytes]:
    """``BACKEND`` as ``name`` on ``ip`` (in ``netns`` when given); the caller kills it."""
    argv = [sys.executable, "-c", BACKEND, name, ip]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_backends(backends: dict[str, str]) -> None:
    for name, ip in backends.items():
        wait_until(partial(backend_answers, ip, name), 10, f"{name} at {ip}")
        wait_until(lambda: udp_ask(ip, 5353) == name, 10, f"UDP {name} at {ip}")  # noqa: B023


@contextlib.contextmanager
def loopback_backends(third: int) -> Iterator[Net]:
    """Backends ``a`` and ``b`` on 127.206.<third>.2 and .3, for the userspace proxy."""
    base = f"127.206.{third}"
    backends = {"a": f"{base}.2", "b": f"{base}.3"}
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for name, ip in backends.items():
            servers.append(start_backend(name, ip))
        wait_backends(backends)
        yield Net(backends, ("127.0.0.1",), "127.10.255.254")
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()


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


async def make_service(client: APIClient, name: str, **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": WEB_PORT, "targetPort": 8000}])
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


async def web_service(client: APIClient, name: str, backend_ips: list[str]) -> str:
    """A Service ``name`` on ``WEB_PORT`` for the HTTP of ``backend_ips``; its cluster IP."""
    svc = await make_service(client, name)
    await set_endpoints(client, name, backend_ips)
    return str(svc["spec"]["clusterIP"])


ECHO_PORTS = [{"name": "echo", "port": 7000, "protocol": "TCP"}]


async def echo_service(client: APIClient, name: str, backend_ip: str) -> str:
    """A Service ``name`` for the TCP echo on port 7000 of ``backend_ip``; its cluster IP."""
    svc = await make_service(client, name, ports=ECHO_PORTS)
    await set_endpoints(client, name, [backend_ip], ECHO_PORTS)
    return str(svc["spec"]["clusterIP"])

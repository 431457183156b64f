"""Root mode keeps the service range on the machine, from the proxy's start to its end.

A node's bridge exists only once the node has a pod CIDR; until then the
range has no route of its own, and without one an address in it would follow
the default route off the machine (seen: a request to 10.96.0.1:443 answered
by whatever was out there). The proxy routes the range to ``lo`` until the
bridge is there: the host's DNAT still reaches a 127.0.0.1 endpoint (the API
server's, the DNS's) and nothing else leaves. Real kernel, real API server.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engines import require_engine
from support.proxynet import Net, make_service, running_proxy, set_endpoints
from support.wait import eventually, eventually_async

from orchestrator.proxy import kernel

SERVICE_CIDR = "10.96.0.0/16"


def route_of(ip: str) -> str:
    """The device the kernel would send ``ip`` out of."""
    out = subprocess.run(
        ["ip", "-o", "route", "get", ip], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    words = out.split()
    return words[words.index("dev") + 1]


def range_routes() -> str:
    return subprocess.run(
        ["ip", "route", "show", SERVICE_CIDR], capture_output=True, text=True, timeout=10
    ).stdout


@pytest.fixture
def local_server() -> Iterator[int]:
    """An HTTP server on 127.0.0.1, as the API server and the cluster DNS are; its port."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def make_bridge(name: str) -> None:
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True, timeout=10)
    subprocess.run(["ip", "link", "set", name, "up"], check=True, timeout=10)


def remove_bridge(name: str) -> None:
    subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False, timeout=10)
    kernel.unroute_service_range(SERVICE_CIDR, name)


def get(url: str) -> str:
    done = subprocess.run(
        ["curl", "-sS", "-m", "2", url], capture_output=True, text=True, timeout=10
    )
    return done.stdout or done.stderr


async def test_the_range_stays_on_the_machine_before_and_after_the_bridge(
    local_server: int, tmp_path: Path
) -> None:
    require_engine("root", os.geteuid() == 0, "routes and iptables need root")
    require_engine("iptables", bool(shutil.which("iptables-restore")), "needs iptables-restore")
    assert range_routes() == "", f"{SERVICE_CIDR} is routed already: {range_routes()}"
    bridge = f"paasrt{secrets.token_hex(2)}"  # made later, as a node agent makes its own
    net = Net(backends={}, node_addresses=(), unused_ip="10.96.255.254", bridge=bridge)
    try:
        async with running_proxy("iptables", net, tmp_path / "api") as proxy:
            unused = net.unused_ip
            await eventually(lambda: route_of(unused) == "lo", 5, "the range is not routed")
            svc = await make_service(proxy.client, "api", ports=[{"port": 443}])
            ip = svc["spec"]["clusterIP"]
            ports = [{"port": local_server, "protocol": "TCP"}]
            await set_endpoints(proxy.client, "api", ["127.0.0.1"], ports)

            async def served() -> bool:
                return await asyncio.to_thread(get, f"http://{ip}:443/") == "hello"

            await eventually_async(served, 5, f"{ip}:443 never reached 127.0.0.1:{local_server}")
            refused = await asyncio.to_thread(get, f"http://{unused}/")
            assert "Couldn't connect to server" in refused, f"not refused at once: {refused}"

            await asyncio.to_thread(make_bridge, bridge)
            await eventually(lambda: route_of(ip) == bridge, 5, "not moved to the bridge")
            assert await asyncio.to_thread(get, f"http://{ip}:443/") == "hello"
        assert range_routes() == "", "the proxy left its route behind"
    finally:
        await asyncio.to_thread(remove_bridge, bridge)

"""What only the userspace proxy (loopback mode) does, as its clients and its operator see it.

The behaviour both proxies share (round robin, removal within a second,
refusal, node ports, affinity, UDP, drain) is in test_proxier.py, run
against this proxy too. Here: falling through a refusing endpoint,
keep-alive HTTP, affinity moving when its endpoint goes, listeners closed
when a service empties or goes, a port that is taken, and ``paas proxy
--mode userspace`` as a process. Backends on 127.206.x, cluster IPs from
127.10.0.0/16; no root.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.apiserver import start_api
from support.proxynet import (
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
    web_service,
)
from support.wait import eventually, eventually_async

from orchestrator.client.rest import APIClient
from orchestrator.proxy.feed import SERVICES
from orchestrator.proxy.userspace import UserspaceProxier

ROOT = Path(__file__).resolve().parents[3]


async def test_a_refusing_endpoint_falls_through_to_the_next(userspace: Proxy) -> None:
    client, net = userspace.client, userspace.net
    dead = net.backends["a"].rsplit(".", 1)[0] + ".9"  # nothing listens there
    ip = await web_service(client, "half", [dead, net.backends["a"]])

    async def served() -> bool:
        return set(await answers(ip, WEB_PORT, 10)) == {"a"}

    await eventually_async(served, 3, "connections meeting the dead endpoint were not retried")


async def test_keep_alive_http_through_the_proxy(userspace: Proxy) -> None:
    client, net = userspace.client, userspace.net
    ip = await web_service(client, "kept-alive", [net.backends["a"]])
    await eventually_async(lambda: _all(ip, "a"), 3, f"{ip}:{WEB_PORT} never answered")

    def many_on_one_connection() -> list[str]:
        conn = http.client.HTTPConnection(ip, WEB_PORT, timeout=2)
        try:
            got, socks = [], set()
            for _ in range(50):
                conn.request("GET", "/name.txt")
                got.append(conn.getresponse().read().decode())
                socks.add(id(conn.sock))
            assert len(socks) == 1, "the connection was not kept alive"
            return got
        finally:
            conn.close()

    assert await asyncio.to_thread(many_on_one_connection) == ["a"] * 50


async def test_bulk_bytes_arrive_intact_both_ways(userspace: Proxy) -> None:
    """16 MiB up and back: the relay's flow control pauses a side, it loses nothing."""
    client, net = userspace.client, userspace.net
    ip = await web_service(client, "bulk", [net.backends["a"]])
    await eventually_async(lambda: _all(ip, "a"), 3, f"{ip}:{WEB_PORT} never answered")
    sent = os.urandom(1 << 24)

    def round_trip() -> bytes:
        conn = http.client.HTTPConnection(ip, WEB_PORT, timeout=10)
        try:
            conn.request("POST", "/", body=sent)
            return conn.getresponse().read()
        finally:
            conn.close()

    got = await asyncio.to_thread(round_trip)
    assert len(got) == len(sent) and got == sent


async def test_affinity_moves_when_its_endpoint_goes_and_then_sticks(userspace: Proxy) -> None:
    client, net = userspace.client, userspace.net
    svc = await make_service(client, "sticky", sessionAffinity="ClientIP")
    ip = svc["spec"]["clusterIP"]
    await set_endpoints(client, "sticky", list(net.backends.values()))

    async def served() -> str:
        got = (await answers(ip, WEB_PORT, 1))[0]
        return got if got in ("a", "b") else ""

    first = await eventually_async(served, 3, f"{ip}:{WEB_PORT} never answered")
    other = "b" if first == "a" else "a"
    await set_endpoints(client, "sticky", [net.backends[other]])
    # Deadlines here are for a loaded CI machine; how fast a change applies is asserted with
    # timings in test_proxier.py.
    await eventually_async(lambda: _all(ip, other), 5, "the client stays on the endpoint that went")
    syncs = userspace.proxier.syncs
    await set_endpoints(client, "sticky", list(net.backends.values()))
    await eventually(lambda: userspace.proxier.syncs > syncs, 5, "no sync after the change")
    assert set(await answers(ip, WEB_PORT, 20)) == {other}, (
        "affinity did not stick to the new endpoint"
    )


async def test_a_relay_that_fails_unexpectedly_resets_its_client(
    userspace: Proxy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault in the proxy must not leave the client hanging until its own timeout."""
    client, net = userspace.client, userspace.net
    ip = await web_service(client, "faulty", [net.backends["a"]])
    await eventually_async(lambda: _all(ip, "a"), 3, f"{ip}:{WEB_PORT} never answered")

    def broken(port_key: str, client_ip: str) -> list[object]:
        raise RuntimeError("a fault in choosing")

    monkeypatch.setattr(userspace.proxier, "candidates", broken)
    started = time.monotonic()
    assert await answers(ip, WEB_PORT, 1) in (["ConnectionResetError"], ["RemoteDisconnected"])
    assert time.monotonic() - started < 0.5, "the client waited for its own timeout"
    assert "relaying a connection from 127.0.0.1 failed" in caplog.text


async def _all(ip: str, name: str) -> bool:
    return set(await answers(ip, WEB_PORT, 5)) == {name}


async def test_a_service_losing_its_last_endpoint_is_refused_at_once(userspace: Proxy) -> None:
    client, net = userspace.client, userspace.net
    ip = await web_service(client, "emptied", [net.backends["a"]])
    await eventually_async(lambda: _all(ip, "a"), 3, f"{ip}:{WEB_PORT} never answered")
    await set_endpoints(client, "emptied", [])

    async def refused() -> bool:
        return await answers(ip, WEB_PORT, 1) == ["ConnectionRefusedError"]

    await eventually_async(refused, 3, "the listener of an emptied service stays open")
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, WEB_PORT), timeout=3).close()
    assert time.monotonic() - started < 0.5


async def test_a_deleted_service_refuses_new_connections_and_drains(userspace: Proxy) -> None:
    client, net = userspace.client, userspace.net
    ip = await echo_service(client, "going", net.backends["a"])
    held = await connected(ip, 7000)
    try:
        assert await asyncio.to_thread(ask, held) == "a"
        await client.delete(SERVICES, "going", "default")

        async def refused() -> bool:
            conn = await asyncio.to_thread(connect, ip, 7000)
            if conn is not None:
                conn.close()
            return conn is None

        await eventually_async(refused, 3, "the deleted service still accepts connections")
        assert await asyncio.to_thread(ask, held) == "a", "the open connection was cut"
    finally:
        held.close()


async def test_a_taken_port_is_logged_and_retried(
    userspace: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    client, net = userspace.client, userspace.net
    proxier = userspace.proxier
    assert isinstance(proxier, UserspaceProxier)
    svc = await make_service(client, "taken")
    ip = svc["spec"]["clusterIP"]
    squatter = socket.socket()
    squatter.bind((ip, WEB_PORT))
    squatter.listen()
    try:
        with caplog.at_level(logging.ERROR, logger="orchestrator.proxy.userspace"):
            await set_endpoints(client, "taken", [net.backends["b"]])
            await eventually(lambda: "default/taken" in caplog.text, 3, "no error names it")
        assert ("TCP", ip, WEB_PORT) not in proxier.listening()
        assert "Address already in use" in caplog.text
    finally:
        squatter.close()
    await eventually_async(lambda: _all(ip, "b"), 3, "the freed port was not taken up again")


async def test_a_stopped_proxy_closes_its_connections(loopback_net: Net, tmp_path: Path) -> None:
    async with running_proxy("userspace", loopback_net, tmp_path / "api") as proxy:
        ip = await echo_service(proxy.client, "stopping", loopback_net.backends["a"])
        held = await connected(ip, 7000)
    with held:
        held.settimeout(2)
        assert await asyncio.to_thread(held.recv, 100) == b"", "the relayed connection stays open"
        assert await asyncio.to_thread(connect, ip, 7000) is None


def start_proxy_process(kubeconfig: Path, log: Path) -> subprocess.Popen[bytes]:
    argv = ["proxy", "--mode", "userspace", "--kubeconfig", str(kubeconfig)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "paas", *argv, "--nodeport-addresses", "127.0.0.1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )


async def test_paas_proxy_userspace_process(loopback_net: Net, tmp_path: Path) -> None:
    """``paas proxy --mode userspace`` as a process relays, and a SIGTERM stops it cleanly."""
    api = start_api(tmp_path / "api", service_cidr="127.10.0.0/16")
    proc: subprocess.Popen[bytes] | None = None
    try:
        async with APIClient(api.client_config()) as client:
            svc = await make_service(client, "cli", type="NodePort")
            ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
            await set_endpoints(client, "cli", [loopback_net.backends["b"]])
        proc = start_proxy_process(api.kubeconfig, tmp_path / "proxy.log")
        await eventually_async(lambda: _all(ip, "b"), 15, "the proxy process does not relay")
        assert await answers("127.0.0.1", node_port, 3) == ["b"] * 3
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 10) == 0
        assert await answers(ip, WEB_PORT, 1) == ["ConnectionRefusedError"]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        api.stop()

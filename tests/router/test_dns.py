"""The cluster DNS against a real API server, asked by a real client (Debian's dig).

Each test starts the DNS in-process on a free loopback port, fed by informers
from a real API server; objects are created through the API; ``dig`` runs as
a subprocess (awaited, so the server keeps answering meanwhile).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord
from support.apiserver import RunningAPI, start_api
from support.engines import require_engine
from support.wait import eventually, eventually_async

from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.config import write_kubeconfig
from orchestrator.client.rest import APIClient
from router.clusterdns import ClusterDNSSettings, run_cluster_dns
from router.dns import FORWARD, DNSServer, DNSSettings
from router.dnsforward import Upstream
from router.dnsrecords import ClusterRecords
from router.dnsresolve import ResolverSettings

DIG = "/usr/bin/dig"
SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")
PODS = BUILTIN_TYPES.require("", "Pod")
ZONE = "svc.cluster.local"


@pytest.fixture(autouse=True)
def _dig() -> None:
    require_engine("dig", os.path.exists(DIG), "dig is not installed (Debian's dnsutils)")


@dataclass
class Dig:
    status: str
    flags: set[str]
    answer: list[list[str]] = field(default_factory=list)  # name, ttl, class, type, data...
    authority: list[list[str]] = field(default_factory=list)
    additional: list[list[str]] = field(default_factory=list)

    def data(self, rtype: str) -> list[str]:
        return sorted(" ".join(r[4:]) for r in self.answer if r[3] == rtype)


async def dig(server: DNSServer, *args: str) -> Dig:
    text = await _run_dig(server, *args)
    status = re.search(r"status: (\w+)", text)
    flags = re.search(r";; flags: ([\w ]*);", text)
    assert status and flags, text
    result = Dig(status.group(1), set(flags.group(1).split()))
    section: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = result.answer
        elif line.startswith(";; AUTHORITY SECTION"):
            section = result.authority
        elif line.startswith(";; ADDITIONAL SECTION"):
            section = result.additional
        elif not line.strip():
            section = None
        elif section is not None and not line.startswith(";"):
            section.append(line.split())
    return result


async def dig_short(server: DNSServer, *args: str) -> list[str]:
    return (await _run_dig(server, "+short", *args)).split()


async def _run_dig(server: DNSServer, *args: str) -> str:
    host, port = server.address
    proc = await asyncio.create_subprocess_exec(
        DIG,
        f"@{host}",
        "-p",
        str(port),
        "+tries=1",
        "+time=3",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, f"dig {args} failed: {text}{err.decode()}"
    return text


async def ask(server: DNSServer, name: str, qtype: str = "A") -> DNSRecord:
    """One query over UDP from Python: fast enough to poll with."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if not reply.done():
                reply.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=server.address)
    try:
        transport.sendto(DNSRecord.question(name, qtype).pack())
        return DNSRecord.parse(await asyncio.wait_for(reply, 3))
    finally:
        transport.close()


def addresses(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA))


@dataclass
class Running:
    server: DNSServer
    client: APIClient


@pytest.fixture
async def cluster_dns(sqlite_api: RunningAPI) -> AsyncIterator[Running]:
    settings = ClusterDNSSettings(
        dns=DNSSettings(
            port=0, resolver=ResolverSettings(app_domain="apps.test", router_ips=("127.0.0.1",))
        )
    )
    async with APIClient(sqlite_api.client_config()) as client:
        serving: asyncio.Future[DNSServer] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_cluster_dns(client, settings, serving.set_result))
        try:
            server = await asyncio.wait_for(asyncio.shield(serving), 30)
            yield Running(server, client)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def service(name: str, *, headless: bool = False, ns: str = "default", **spec: Any) -> Obj:
    body: Obj = {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}
    if headless:
        body["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def endpoints(name: str, ready: list[Obj], not_ready: list[Obj] | None = None) -> Obj:
    subset: Obj = {"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name},
        "subsets": [subset],
    }


async def create_service(running: Running, name: str, **kw: Any) -> Obj:
    svc = await running.client.create(SERVICES, service(name, **kw), "default")
    await eventually_async(
        lambda: _status(running.server, f"{name}.default.{ZONE}", RCODE.NOERROR),
        message=f"{name} never appeared in DNS",
    )
    return svc


async def _status(server: DNSServer, name: str, rcode: int) -> bool:
    return bool((await ask(server, name)).header.rcode == rcode)


async def test_service_name_answers_its_cluster_ip(cluster_dns: Running) -> None:
    svc = await create_service(cluster_dns, "web")
    ip = svc["spec"]["clusterIP"]
    assert ip.startswith("10.96.")
    got = await dig(cluster_dns.server, f"web.default.{ZONE}")
    assert got.status == "NOERROR"
    assert "aa" in got.flags
    assert got.data("A") == [ip]
    assert got.answer[0][1] == "5"  # the TTL: CoreDNS's default for the kubernetes plugin
    assert await dig_short(cluster_dns.server, f"web.default.{ZONE}") == [ip]


async def test_names_compare_case_insensitively_and_keep_the_asked_spelling(
    cluster_dns: Running,
) -> None:
    svc = await create_service(cluster_dns, "web")
    got = await dig(cluster_dns.server, "WeB.DeFault.SVC.cluster.LOCAL")
    assert got.data("A") == [svc["spec"]["clusterIP"]]
    assert got.answer[0][0] == "WeB.DeFault.SVC.cluster.LOCAL."


async def test_aaaa_of_an_ipv4_service_is_nodata_with_the_zone_soa(cluster_dns: Running) -> None:
    await create_service(cluster_dns, "web")
    got = await dig(cluster_dns.server, f"web.default.{ZONE}", "AAAA")
    assert got.status == "NOERROR"
    assert got.answer == []
    assert [r[3] for r in got.authority] == ["SOA"]
    assert got.authority[0][0] == "cluster.local."
    assert got.authority[0][-1] == "5"  # negative answers cached no longer than positive ones


async def test_srv_gives_the_port_and_the_service_name(cluster_dns: Running) -> None:
    svc = await create_service(cluster_dns, "web")
    got = await dig(cluster_dns.server, f"_http._tcp.web.default.{ZONE}", "SRV")
    assert got.data("SRV") == [f"0 100 80 web.default.{ZONE}."]
    assert [r[4] for r in got.additional if r[3] == "A"] == [svc["spec"]["clusterIP"]]
    nope = await dig(cluster_dns.server, f"_grpc._tcp.web.default.{ZONE}", "SRV")
    assert nope.status == "NXDOMAIN"


async def test_ptr_of_a_cluster_ip_names_the_service(cluster_dns: Running) -> None:
    svc = await create_service(cluster_dns, "web")
    got = await dig(cluster_dns.server, "-x", svc["spec"]["clusterIP"])
    assert got.status == "NOERROR"
    assert got.data("PTR") == [f"web.default.{ZONE}."]


async def test_headless_service_answers_each_ready_endpoint(cluster_dns: Running) -> None:
    await create_service(cluster_dns, "db", headless=True)
    await cluster_dns.client.create(
        ENDPOINTS,
        endpoints(
            "db",
            [{"ip": "10.244.7.5", "hostname": "db-0"}, {"ip": "10.244.7.6"}],
            [{"ip": "10.244.7.9"}],
        ),
        "default",
    )
    base = f"db.default.{ZONE}"
    await eventually_async(lambda: _count(cluster_dns.server, base, 2))
    got = await dig(cluster_dns.server, base)
    assert got.data("A") == ["10.244.7.5", "10.244.7.6"]  # not the unready 10.244.7.9
    assert (await dig(cluster_dns.server, f"db-0.{base}")).data("A") == ["10.244.7.5"]
    assert (await dig(cluster_dns.server, f"10-244-7-6.{base}")).data("A") == ["10.244.7.6"]
    srv = await dig(cluster_dns.server, f"_http._tcp.{base}", "SRV")
    assert srv.data("SRV") == [f"0 100 8080 10-244-7-6.{base}.", f"0 100 8080 db-0.{base}."]
    assert sorted(r[4] for r in srv.additional if r[3] == "A") == ["10.244.7.5", "10.244.7.6"]
    ptr = await dig(cluster_dns.server, "-x", "10.244.7.5")
    assert ptr.data("PTR") == [f"db-0.{base}."]


async def _count(server: DNSServer, name: str, n: int) -> bool:
    return len(addresses(await ask(server, name))) == n


async def test_pods_with_hostname_and_subdomain_get_their_own_names(cluster_dns: Running) -> None:
    await create_service(cluster_dns, "peers", headless=True)
    for name, hostname, subdomain in (("peer-a", "alpha", "peers"), ("peer-b", "beta", "else")):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "hostname": hostname,
                "subdomain": subdomain,
                "containers": [{"name": "c", "image": "paas/stack:bookworm"}],
            },
        }
        await cluster_dns.client.create(PODS, pod, "default")
    refs = [
        {"ip": ip, "targetRef": {"kind": "Pod", "namespace": "default", "name": name}}
        for ip, name in (("10.244.8.2", "peer-a"), ("10.244.8.3", "peer-b"))
    ]
    await cluster_dns.client.create(ENDPOINTS, endpoints("peers", refs), "default")
    base = f"peers.default.{ZONE}"
    await eventually_async(lambda: _count(cluster_dns.server, f"alpha.{base}", 1))
    assert (await dig(cluster_dns.server, f"alpha.{base}")).data("A") == ["10.244.8.2"]
    # beta's subdomain names another service: it keeps the address-derived name
    assert (await dig(cluster_dns.server, f"beta.{base}")).status == "NXDOMAIN"
    assert (await dig(cluster_dns.server, f"10-244-8-3.{base}")).data("A") == ["10.244.8.3"]


async def test_unknown_names_in_the_zone_are_nxdomain_and_empty_parents_nodata(
    cluster_dns: Running,
) -> None:
    await create_service(cluster_dns, "web")
    missing = await dig(cluster_dns.server, f"nothere.default.{ZONE}")
    assert missing.status == "NXDOMAIN"
    assert "aa" in missing.flags
    assert [r[3] for r in missing.authority] == ["SOA"]
    assert (await dig(cluster_dns.server, f"web.nons.{ZONE}")).status == "NXDOMAIN"
    parent = await dig(cluster_dns.server, f"default.{ZONE}")
    assert (parent.status, parent.answer) == ("NOERROR", [])
    version = await dig(cluster_dns.server, "dns-version.cluster.local", "TXT")
    assert version.data("TXT") == ['"1.1.0"']


async def test_app_domain_wildcard_points_at_the_router(cluster_dns: Running) -> None:
    for name in ("apps.test", "feature-x--myapp.apps.test", "a.b.APPS.test"):
        got = await dig(cluster_dns.server, name)
        assert got.data("A") == ["127.0.0.1"], name
    nodata = await dig(cluster_dns.server, "myapp.apps.test", "MX")
    assert (nodata.status, nodata.answer) == ("NOERROR", [])


async def test_names_outside_are_refused_without_an_upstream(cluster_dns: Running) -> None:
    got = await dig(cluster_dns.server, "example.com")
    assert got.status == "REFUSED"
    assert "ra" not in got.flags
    assert (await dig(cluster_dns.server, "-x", "192.0.2.1")).status == "REFUSED"


async def test_large_answers_are_truncated_over_udp_and_whole_over_tcp(
    cluster_dns: Running,
) -> None:
    await create_service(cluster_dns, "big", headless=True)
    many = [{"ip": f"10.244.9.{i}"} for i in range(1, 101)]
    await cluster_dns.client.create(ENDPOINTS, endpoints("big", many), "default")
    base = f"big.default.{ZONE}"
    await eventually_async(lambda: _count_tcp(cluster_dns.server, base, 100))
    small = await dig(cluster_dns.server, "+noedns", "+ignore", base)
    assert "tc" in small.flags
    assert small.answer == []
    edns = await dig(cluster_dns.server, "+bufsize=1232", "+ignore", base)  # 100 A > 1232 bytes
    assert "tc" in edns.flags
    whole = await dig(cluster_dns.server, "+tcp", base)
    assert "tc" not in whole.flags
    assert len(whole.data("A")) == 100
    fallback = await dig(cluster_dns.server, "+noedns", base)  # dig retries over TCP itself
    assert len(fallback.data("A")) == 100


async def _count_tcp(server: DNSServer, name: str, n: int) -> bool:
    host, port = server.address
    reader, writer = await asyncio.open_connection(host, port)
    try:
        query = DNSRecord.question(name).pack()
        writer.write(len(query).to_bytes(2, "big") + query)
        size = int.from_bytes(await reader.readexactly(2), "big")
        return len(addresses(DNSRecord.parse(await reader.readexactly(size)))) == n
    finally:
        writer.close()


async def test_changes_through_the_api_are_answered_at_once(cluster_dns: Running) -> None:
    """Create, change and delete through the API: the DNS follows within the deadline."""
    name = f"live.default.{ZONE}"
    server = cluster_dns.server
    assert (await ask(server, name)).header.rcode == RCODE.NXDOMAIN
    await cluster_dns.client.create(SERVICES, service("live", headless=True), "default")
    await eventually_async(lambda: _status(server, name, RCODE.NOERROR), timeout=3)
    await cluster_dns.client.create(
        ENDPOINTS, endpoints("live", [{"ip": "10.244.10.1"}]), "default"
    )
    await eventually_async(lambda: _count(server, name, 1), timeout=3)
    changed = endpoints("live", [{"ip": "10.244.10.2"}, {"ip": "10.244.10.3"}])
    current = await cluster_dns.client.get(ENDPOINTS, "live", "default")
    changed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await cluster_dns.client.replace(ENDPOINTS, changed, "default")
    await eventually_async(lambda: _count(server, name, 2), timeout=3)
    assert addresses(await ask(server, name)) == ["10.244.10.2", "10.244.10.3"]
    await cluster_dns.client.delete(SERVICES, "live", "default")
    await eventually_async(lambda: _status(server, name, RCODE.NXDOMAIN), timeout=3)
    got = await dig(server, name)
    assert got.status == "NXDOMAIN"


async def test_answers_come_from_the_cache_while_the_api_server_is_down(tmp_path: Path) -> None:
    """No API call per query: with the API server stopped, the names it knew still answer."""
    api = start_api(tmp_path / "api")
    stopped = False
    try:
        settings = ClusterDNSSettings(dns=DNSSettings(port=0))
        async with APIClient(api.client_config()) as client:
            serving: asyncio.Future[DNSServer] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(run_cluster_dns(client, settings, serving.set_result))
            try:
                server = await asyncio.wait_for(asyncio.shield(serving), 30)
                svc = await client.create(SERVICES, service("web"), "default")
                name = f"web.default.{ZONE}"
                await eventually_async(lambda: _status(server, name, RCODE.NOERROR))
                await asyncio.to_thread(api.stop)
                stopped = True
                got = await dig(server, name)
                assert got.data("A") == [svc["spec"]["clusterIP"]]
                assert not task.done()  # the informers retry; the server keeps serving
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        if not stopped:
            api.stop()


async def test_garbage_gets_formerr_and_the_server_keeps_answering(cluster_dns: Running) -> None:
    await create_service(cluster_dns, "web")
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, cluster_dns.server.address)
        await loop.sock_sendall(sock, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05ab")
        reply = await asyncio.wait_for(loop.sock_recv(sock, 512), 3)
        assert reply[:2] == b"\x12\x34"
        assert reply[3] & 0x0F == RCODE.FORMERR
        await loop.sock_sendall(sock, b"\x00")  # too short for a header: dropped
    assert (await dig(cluster_dns.server, f"web.default.{ZONE}")).status == "NOERROR"


# -- forwarding -------------------------------------------------------------------


@pytest.fixture
async def upstream() -> AsyncIterator[DNSServer]:
    """A second DNS of our own on loopback: it answers *.example.test with 192.0.2.7."""
    server = DNSServer(
        ClusterRecords("upstream.test"),
        DNSSettings(
            port=0, resolver=ResolverSettings(app_domain="example.test", router_ips=("192.0.2.7",))
        ),
    )
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def test_names_outside_are_forwarded_to_the_upstream(upstream: DNSServer) -> None:
    table = ClusterRecords()
    table.apply_service(
        {"metadata": {"name": "web", "namespace": "default"}, "spec": {"clusterIP": "10.96.3.3"}}
    )
    host, port = upstream.address
    server = DNSServer(table, DNSSettings(port=0, upstreams=(Upstream(host, port),)))
    await server.start()
    try:
        got = await dig(server, "www.example.test")
        assert got.data("A") == ["192.0.2.7"]
        assert (await dig(server, "+tcp", "www.example.test")).data("A") == ["192.0.2.7"]
        assert (await dig(server, "x.upstream.test")).status == "NXDOMAIN"  # the upstream's say
        ours = await dig(server, f"web.default.{ZONE}")
        assert ours.data("A") == ["10.96.3.3"]
        assert {"aa", "ra"} <= ours.flags  # recursion is available: through the upstream
        assert "ad" not in ours.flags  # nothing here is DNSSEC-validated
    finally:
        await server.close()


async def test_an_upstream_that_does_not_answer_gives_servfail() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound and silent: the query times out
        silent = sock.getsockname()
        server = DNSServer(
            ClusterRecords(),
            DNSSettings(port=0, upstreams=(Upstream(*silent),), forward_timeout=0.3),
        )
        await server.start()
        try:
            assert (await dig(server, "www.example.test")).status == "SERVFAIL"
        finally:
            await server.close()


# -- the command --------------------------------------------------------------------


async def test_paas_dns_serves_writes_its_address_and_publishes_kube_dns(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    address_file = tmp_path / "dns.url"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "paas",
        "dns",
        "--kubeconfig",
        str(sqlite_api.kubeconfig),
        "--port",
        "0",
        "--address-file",
        str(address_file),
        "--router-ip",
        "127.0.0.1",
        "--service-ip",
        "10.96.0.10",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(address_file.exists, timeout=30, message="paas dns never served")
        url = address_file.read_text()
        host, port = re.fullmatch(r"udp://([\d.]+):(\d+)", url).groups()  # type: ignore[union-attr]
        server = DNSServer(ClusterRecords())
        server.address = (host, int(port))  # only to address dig at the process
        name = f"kube-dns.kube-system.{ZONE}"
        await eventually_async(lambda: _count(server, name, 1), timeout=10)
        assert (await dig(server, name)).data("A") == ["10.96.0.10"]
        assert (await dig(server, "app.localhost")).data("A") == ["127.0.0.1"]
        async with APIClient(sqlite_api.client_config()) as client:
            ep = await client.get(ENDPOINTS, "kube-dns", "kube-system")
        assert ep["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]
        assert {p["port"] for p in ep["subsets"][0]["ports"]} == {int(port)}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--upstream", "10.0.0.1:99999"], "port must be a number from 1 to 65535"),
        (["--router-ip", "router.local"], "--router-ip 'router.local': not an IP address"),
        (["--host", "0.0.0.0", "--service-ip", "10.96.0.10"], "needs --advertise-address"),
    ],
)
def test_paas_dns_rejects_bad_flags_naming_them(
    tmp_path: Path, flags: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from paas.cli.main import main

    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, server="https://127.0.0.1:1", token="t", ca_pem=b"unused")
    assert main(["dns", "--kubeconfig", str(kubeconfig), *flags]) == 2
    assert error in capsys.readouterr().err


async def test_bound_to_every_address_it_reports_a_loopback_url() -> None:
    server = DNSServer(ClusterRecords(), DNSSettings(host="0.0.0.0", port=0))
    await server.start()
    try:
        assert server.url == f"udp://127.0.0.1:{server.address[1]}"
        loopback = DNSServer(ClusterRecords())
        loopback.address = ("127.0.0.1", server.address[1])
        assert (await dig(loopback, "dns-version.cluster.local", "TXT")).data("TXT") == ['"1.1.0"']
    finally:
        await server.close()


def test_mangled_queries_get_an_answer_or_are_dropped_never_an_exception() -> None:
    """Bytes flipped at random in real queries: FORMERR, an answer, or silence."""
    table = ClusterRecords()
    table.apply_service(
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]},
        }
    )
    server = DNSServer(
        table, DNSSettings(resolver=ResolverSettings(router_ips=("127.0.0.1",)), cache_entries=50)
    )
    rng = random.Random(5)
    seeds = [
        DNSRecord.question(f"web.default.{ZONE}", qtype).pack()
        for qtype in ("A", "AAAA", "SRV", "PTR", "TXT", "ANY")
    ]
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        for tcp in (False, True):
            out = server.reply(bytes(data), tcp=tcp)
            assert out is None or out is FORWARD or out[:2] == data[:2]


def test_dns_counts_queries_by_type_and_rcode_as_coredns() -> None:
    from router.dnsmetrics import DNSStats, query_type

    query = DNSRecord.question("web.default.svc.cluster.local", "SRV").pack()
    assert query_type(query) == "SRV"
    assert query_type(DNSRecord.question("x.example", "AAAA").pack()) == "AAAA"
    assert query_type(b"\x00" * 12) == "other"
    stats = DNSStats()
    reply = DNSRecord.question("x.example").reply()
    reply.header.rcode = 3
    stats.record("dns://127.0.0.1:53", "udp", "1", query, reply.pack(), 0.0004)
    families = {f.name: f for f in stats.collect()}
    (sample,) = families["coredns_dns_requests"].samples
    assert sample.labels == {
        "server": "dns://127.0.0.1:53",
        "zone": ".",
        "proto": "udp",
        "family": "1",
        "type": "SRV",
    }
    (response,) = families["coredns_dns_responses"].samples
    assert response.labels["rcode"] == "NXDOMAIN"
    count = [
        s
        for s in families["coredns_dns_request_duration_seconds"].samples
        if s.name.endswith("_count")
    ]
    assert count[0].value == 1

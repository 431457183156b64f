"""Cluster DNS benchmark: queries per second and latency, against dnsmasq in the same run.

Run with ``make bench`` (or ``python -m bench.net_dns [--quick]``). In one run it:

1. starts ``paas apiserver`` and ``paas dns`` as their own processes (the DNS
   fed by its informers, as in production), creates the Service ``web`` and
   waits until the DNS answers its cluster IP;
2. starts Debian's ``dnsmasq`` answering the same name with the same address
   (``--host-record``): the anchor;
3. drives each with Debian's ``dnsperf`` asking ``web.default.svc.cluster.local
   A``, alternating servers, ``--runs`` times:
   - saturation: as fast as answers come (100 queries outstanding) for
     ``--seconds``: queries per second and mean latency;
   - at the target rate (``--rate``, 5,000/s by default): p50 and p99 latency
     from dnsperf's per-query report, and the share answered;
4. prints the medians side by side, the ratio to dnsmasq, and the targets
   (>= 5,000 queries/s, p99 <= 5 ms at that rate).

Then, in this process, the cost of an answer that misses the packet cache
(dnslib parse, resolve, pack: what a client with random letter case or
random EDNS cookies pays each time). The servers and dnsperf share the
machine's two cores; both servers are measured under the same conditions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnslib import DNSRecord

from bench.cluster import ComponentProcess, ServerProcess
from bench.report import Figure, save_if_asked
from bench.stats import percentile
from router.dns import DNSServer, DNSSettings
from router.dnsrecords import ClusterRecords

NAME = "web.default.svc.cluster.local"


@dataclass(frozen=True)
class Saturation:
    qps: float
    mean_ms: float
    lost: float  # share of queries without an answer


@dataclass(frozen=True)
class AtRate:
    p50_ms: float
    p99_ms: float
    answered: float  # share of the queries sent that were answered


def free_port() -> int:
    """A port free for UDP and TCP at the time of asking."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def ask(port: int, name: str = NAME, timeout: float = 1.0) -> str:
    """The first A record's address, or "" when there is none (or no answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(DNSRecord.question(name).pack(), ("127.0.0.1", port))
            reply = DNSRecord.parse(sock.recv(65535))
        except OSError:
            return ""
    return str(reply.rr[0].rdata) if reply.rr else ""


def dnsperf(port: int, queries: Path, seconds: float, *extra: str) -> str:
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries)]
    argv += ["-l", str(seconds), "-t", "2", *extra]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def saturate(port: int, queries: Path, seconds: float) -> Saturation:
    out = dnsperf(port, queries, seconds, "-q", "100")
    qps = float(_field(out, r"Queries per second:\s+([\d.]+)"))
    mean = float(_field(out, r"Average Latency \(s\):\s+([\d.]+)"))
    lost = float(_field(out, r"Queries lost:\s+\d+ \(([\d.]+)%\)")) / 100
    return Saturation(qps, mean * 1000, lost)


def at_rate(port: int, queries: Path, seconds: float, rate: int) -> AtRate:
    out = dnsperf(port, queries, seconds, "-Q", str(rate), "-v")
    latencies = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("> ")]
    sent = int(_field(out, r"Queries sent:\s+(\d+)"))
    return AtRate(
        p50_ms=statistics.median(latencies) * 1000 if latencies else 0.0,
        p99_ms=percentile(latencies, 99) * 1000,
        answered=len(latencies) / sent if sent else 0.0,
    )


def _field(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"dnsperf output lacks {pattern!r}:\n{text}")
    return match.group(1)


def start_paas_dns(data: Path) -> tuple[ServerProcess, ComponentProcess, int, str]:
    api = ServerProcess("sqlite", data / "api").start()
    address = data / "dns.url"
    argv = ["dns", "--kubeconfig", str(api.kubeconfig()), "--port", "0"]
    dns = ComponentProcess("dns", [*argv, "--address-file", str(address)], data).start()
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }

    async def create() -> str:
        async with api.client() as http:
            r = await http.post("/api/v1/namespaces/default/services", json=svc)
            r.raise_for_status()
            return str(r.json()["spec"]["clusterIP"])

    ip = asyncio.run(create())
    deadline = time.monotonic() + 60
    port = 0
    while True:
        if address.exists() and not port:
            port = int(address.read_text().rsplit(":", 1)[1])
        if port and ask(port) == ip:
            return api, dns, port, ip
        if time.monotonic() > deadline:
            raise RuntimeError(f"paas dns did not answer {NAME}; see {data}/dns.log")
        time.sleep(0.05)


def start_dnsmasq(data: Path, ip: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (data / "dnsmasq.log").open("wb")
    proc = subprocess.Popen(
        [
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",  # nothing from /etc/dnsmasq.conf
            "--no-resolv",  # nor the machine's resolvers: it answers only our name
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            f"--port={port}",
            "--pid-file=",
            "--log-facility=-",
            f"--host-record={NAME},{ip}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while ask(port, timeout=0.2) != ip:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dnsmasq did not answer; see {data}/dnsmasq.log")
    return proc, port


def miss_cost_us(samples: int) -> float:
    """Microseconds per answer that misses the packet cache (parse, resolve, pack)."""
    table = ClusterRecords()
    table.apply_service(
        {"metadata": {"name": "web", "namespace": "default"}, "spec": {"clusterIP": "10.96.0.20"}}
    )
    server = DNSServer(table, DNSSettings(cache_entries=1))
    rng = random.Random(1)
    queries = []
    for i in range(samples):
        name = "".join(c.upper() if rng.random() < 0.5 else c for c in NAME)
        q = DNSRecord.question(name)
        q.header.id = i % 65536
        queries.append(bytes(q.pack()))
    started = time.perf_counter()
    for data in queries:
        server.reply(data, tcp=False)
    return (time.perf_counter() - started) / samples * 1e6


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def figures(
    sat: dict[str, list[Saturation]],
    rate: dict[str, list[AtRate]],
    miss_us: float,
    args: argparse.Namespace,
) -> list[Figure]:
    """The report's figures: paas dns beside dnsmasq answering the same name (medians)."""
    runs: dict[str, dict[str, list[Any]]] = {w: {"sat": sat[w], "rate": rate[w]} for w in sat}

    def median_of(who: str, kind: str, field: str) -> float:
        return med([getattr(r, field) for r in runs[who][kind]])

    name = "dnsmasq answering the same name (--host-record)"
    rows: list[tuple[str, str, str, str, dict[str, Any]]] = [
        ("queries/s", "sat", "qps", "/s", {"better": "higher", "target": 5000.0}),
        ("mean latency at saturation", "sat", "mean_ms", "ms", {}),
        (f"p50 at {args.rate}/s", "rate", "p50_ms", "ms", {}),
        (f"p99 at {args.rate}/s", "rate", "p99_ms", "ms", {"target": 5.0}),
    ]
    out = [
        Figure(
            "net_dns",
            label,
            median_of("paas dns", kind, field),
            unit,
            anchor=median_of("dnsmasq", kind, field),
            anchor_name=name,
            **kw,
        )
        for label, kind, field, unit, kw in rows
    ]
    answered = Figure(
        "net_dns",
        f"answered at {args.rate}/s",
        median_of("paas dns", "rate", "answered") * 100,
        "%",
        better="higher",
        anchor=median_of("dnsmasq", "rate", "answered") * 100,
        anchor_name=name,
    )
    out.append(answered)
    out.append(Figure("net_dns", "answer missing the packet cache (in-process)", miss_us, "us"))
    return out


def report(
    sat: dict[str, list[Saturation]],
    rate: dict[str, list[AtRate]],
    miss_us: float,
    args: argparse.Namespace,
) -> str:
    rows = []
    for who in ("paas dns", "dnsmasq"):
        rows.append(
            (
                who,
                med([s.qps for s in sat[who]]),
                med([s.mean_ms for s in sat[who]]),
                med([r.p50_ms for r in rate[who]]),
                med([r.p99_ms for r in rate[who]]),
                med([r.answered for r in rate[who]]),
            )
        )
    ours, anchor = rows
    lines = [
        f"Cluster DNS: {NAME} A, dnsperf, medians of {args.runs} runs of {args.seconds:g}s each",
        f"{'':10} {'queries/s':>10} {'mean ms':>8} | at {args.rate}/s: {'p50 ms':>7} "
        f"{'p99 ms':>7} {'answered':>8}",
    ]
    for who, qps, mean, p50, p99, answered in rows:
        lines.append(
            f"{who:10} {qps:10.0f} {mean:8.2f} | {'':9} {p50:7.3f} {p99:7.3f} {answered:8.1%}"
        )
    ratio = ours[1] / anchor[1] if anchor[1] else 0.0
    lines.append(f"paas dns / dnsmasq queries/s: {ratio:.2f}")
    lines.append(
        f"target >= 5000 queries/s: {'met' if ours[1] >= 5000 else 'NOT met'}; "
        f"target p99 <= 5 ms at {args.rate}/s: {'met' if ours[4] <= 5 else 'NOT met'}"
    )
    per_run = ", ".join(f"{s.qps:.0f}" for s in sat["paas dns"])
    lines.append(f"paas dns queries/s per run: {per_run}")
    lines.append(f"an answer missing the packet cache costs {miss_us:.0f} us in-process")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines.append(f"load average at the end (1, 5, 15 min; {os.cpu_count()} cores): {load}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each dnsperf run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rate", type=int, default=5000, help="queries/s for the latency runs")
    p.add_argument("--quick", action="store_true", help="short runs, for a smoke run")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args, _ = p.parse_known_args(argv)  # `make bench ARGS=...` feeds every benchmark the same
    if args.quick:
        args.seconds, args.runs = 1.0, 1
    missing = [tool for tool in ("dnsperf", "dnsmasq") if shutil.which(tool) is None]
    if missing:
        print(
            f"bench.net_dns needs {' and '.join(missing)}: apt-get install dnsperf dnsmasq-base",
            file=sys.stderr,
        )
        return 1
    sat: dict[str, list[Saturation]] = {"paas dns": [], "dnsmasq": []}
    rate: dict[str, list[AtRate]] = {"paas dns": [], "dnsmasq": []}
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp:
        data = Path(tmp)
        (data / "api").mkdir()
        queries = data / "queries.txt"
        queries.write_text(f"{NAME} A\n")
        api, dns, port, ip = start_paas_dns(data)
        dnsmasq: subprocess.Popen[bytes] | None = None
        try:
            dnsmasq, anchor_port = start_dnsmasq(data, ip)
            ports = {"paas dns": port, "dnsmasq": anchor_port}
            for run in range(args.runs):
                for who in ("paas dns", "dnsmasq") if run % 2 == 0 else ("dnsmasq", "paas dns"):
                    sat[who].append(saturate(ports[who], queries, args.seconds))
                    rate[who].append(at_rate(ports[who], queries, args.seconds, args.rate))
                print(f"  run {run + 1}/{args.runs}: done", file=sys.stderr, flush=True)
        finally:
            if dnsmasq is not None:
                dnsmasq.terminate()
                dnsmasq.wait(10)
            dns.stop()
            api.stop()
    miss_us = miss_cost_us(2000)
    print(report(sat, rate, miss_us, args))
    save_if_asked(args.results, figures(sat, rate, miss_us, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

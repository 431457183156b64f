"""Service proxy benchmark: one backend reached directly, through the kernel path and through
the userspace proxy, side by side in the same run.

Run with ``make bench`` (or ``python -m bench.net_proxy [--quick]``), as root. In one run it:

1. makes a pod-like network namespace (``paas-bench-*``) on a bridge of its own in
   10.207.0.0/16 and starts two backends in it: a Python ASGI app under uvicorn
   (``bench/helloapp.py``: a Python web app is what the platform typically runs,
   and uvicorn is what its ASGI apps run under; ``http.server`` would measure
   its own single thread) and Debian's nginx (a fast backend, so the proxy's own
   cost shows). The same two also run on the host at 127.206.250.2, as pods of
   loopback mode do;
2. starts two API servers (``paas apiserver``), one with the root-mode service range
   10.96.0.0/16 and one with the loopback range 127.10.0.0/16, creates a Service
   per backend on each with Endpoints naming the backend (the netns pod for the
   first, the loopback pod for the second), and starts ``paas proxy --mode
   iptables`` (kernel DNAT through nat OUTPUT, the range routed to the bridge)
   and ``paas proxy --mode userspace`` (it listens on the 127.10 cluster IP and
   relays);
3. drives each backend with ``wrk`` (one thread, ``--connections`` keep-alive
   connections, ``--seconds`` a measure) along each path in turn, ``--runs`` times,
   the order rotated every run: ``direct`` to the netns pod, ``iptables`` (its
   cluster IP), ``direct-lo`` to the loopback pod, ``userspace`` (its cluster IP);
4. prints medians of requests per second and p50/p99 latency, the ratio of each
   proxied path to a direct connection to the same backend, the target (>= 70%),
   and the userspace proxy's own CPU time per request relayed, user and system
   (from /proc: less at the mercy of the machine's load than throughput); as an
   anchor for the userspace path, ``nginx-proxy``: nginx itself (C, one worker,
   keep-alive upstream connections) relaying to the same loopback pod, which
   shows what any userspace hop keeps of direct on this machine.

Everything shares the machine's two cores: wrk, the backend and (on the userspace
path) the proxy. Everything it made is removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.api import run_wrk
from bench.cluster import ComponentProcess, ServerProcess
from bench.report import Figure, save_if_asked
from bench.stats import Latency
from orchestrator.proxy.proxier import IptablesProxier, ProxySettings

ROOT_RANGE, LOOPBACK_RANGE = "10.96.0.0/16", "127.10.0.0/16"
LOOPBACK_POD = "127.206.250.2"  # a loopback-mode pod's address (127.206/16 is this work's own)
LOOPBACK_ANCHOR = "127.206.250.3"  # where nginx listens as a reverse proxy, the anchor
PATHS = ("direct", "iptables", "direct-lo", "userspace", "nginx-proxy")
BASELINE = {"iptables": "direct", "userspace": "direct-lo", "nginx-proxy": "direct-lo"}
ANCHOR_CONF = """
daemon off;
worker_processes 1;
pid {dir}/anchor-{port}.pid;
error_log {dir}/anchor-{port}-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/anchor-body;
    proxy_temp_path {dir}/anchor-proxy;
    fastcgi_temp_path {dir}/anchor-fastcgi;
    uwsgi_temp_path {dir}/anchor-uwsgi;
    scgi_temp_path {dir}/anchor-scgi;
    upstream backend {{ server {target}; keepalive 64; }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {listen};
        location / {{ return 200 "hello\\n"; }}
    }}
}}
"""


@dataclass(frozen=True)
class Backend:
    name: str
    port: int


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def make_pod_network(stack: ExitStack) -> tuple[str, str, str]:
    """(bridge, namespace, pod IP): a netns on a bridge of the bench's own, removed on exit."""
    tag = secrets.token_hex(2)
    third = int(tag, 16) % 250 + 2
    bridge, ns = f"paasbn{tag}", f"paas-bench-{tag}"
    gateway, ip = f"10.207.{third}.1", f"10.207.{third}.2"
    stack.callback(lambda: subprocess.run(["ip", "link", "del", bridge], capture_output=True))
    sh("ip", "link", "add", bridge, "type", "bridge")
    sh("ip", "addr", "add", f"{gateway}/24", "dev", bridge)
    sh("ip", "link", "set", bridge, "up")
    stack.callback(lambda: subprocess.run(["ip", "netns", "del", ns], capture_output=True))
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", f"paasbv{tag}", "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "link", "set", f"paasbv{tag}", "master", bridge, "up")
    sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", ns, "route", "add", "default", "via", gateway)
    return bridge, ns, ip


def start_process(stack: ExitStack, ns: str, argv: list[str], log: Path) -> None:
    """``argv`` in network namespace ``ns`` (on the host's network if empty), stopped on exit."""
    out = log.open("wb")
    if ns:
        argv = ["ip", "netns", "exec", ns, *argv]
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()

    stack.callback(stop)


def start_backends(stack: ExitStack, ns: str, ip: str, data: Path) -> list[Backend]:
    """The backends on ``ip`` in ``ns`` (a pod of root mode) or on the host (loopback mode)."""
    data = data / (ns or "loopback")
    data.mkdir()
    backends = [Backend("python", 8080)]
    py = [sys.executable, "-m", "uvicorn", "--host", ip, "--port", "8080"]
    py += ["--no-access-log", "--log-level", "warning", "--app-dir", str(Path(__file__).parent)]
    start_process(stack, ns, [*py, "helloapp:app"], data / "uvicorn.log")
    if shutil.which("nginx"):
        conf = data / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=data, listen=f"{ip}:8081"))
        start_process(stack, ns, ["nginx", "-c", str(conf), "-p", str(data)], data / "nginx.log")
        backends.append(Backend("nginx", 8081))
    return backends


def start_anchors(stack: ExitStack, backends: list[Backend], data: Path) -> set[str]:
    """nginx as a reverse proxy to each loopback pod: what a proxy in C keeps of direct here."""
    made = set()
    for b in backends:
        conf = data / f"anchor-{b.port}.conf"
        listen, target = f"{LOOPBACK_ANCHOR}:{b.port + 1000}", f"{LOOPBACK_POD}:{b.port}"
        conf.write_text(ANCHOR_CONF.format(dir=data, port=b.port, listen=listen, target=target))
        start_process(stack, "", ["nginx", "-c", str(conf), "-p", str(data)], data / "anchor.log")
        made.add(b.name)
    return made


def publish(api: ServerProcess, backends: list[Backend], ip: str) -> dict[str, str]:
    """A selector-less Service per backend with Endpoints naming it; their cluster IPs."""

    async def create() -> dict[str, str]:
        ips = {}
        async with api.client() as http:
            for b in backends:
                svc = {"metadata": {"name": b.name}, "spec": {"ports": [{"port": 80}]}}
                r = await http.post("/api/v1/namespaces/default/services", json=svc)
                r.raise_for_status()
                ips[b.name] = str(r.json()["spec"]["clusterIP"])
                subset = {"addresses": [{"ip": ip}], "ports": [{"port": b.port}]}
                eps = {"metadata": {"name": b.name}, "subsets": [subset]}
                r = await http.post("/api/v1/namespaces/default/endpoints", json=eps)
                r.raise_for_status()
        return ips

    return asyncio.run(create())


def wait_answering(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} does not answer")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def report(
    results: dict[tuple[str, str], list[Latency]],
    proxy_cpu: dict[str, list[tuple[float, float]]],
    args: argparse.Namespace,
) -> None:
    print(
        f"\nService proxy: wrk, 1 thread, {args.connections} keep-alive connections, "
        f"{args.seconds:g} s a measure, medians of {args.runs} runs"
    )
    head = ("backend", "path", "requests/s", "p50 ms", "p99 ms", "of direct")
    print(f"{head[0]:8} {head[1]:10} {head[2]:>11} {head[3]:>8} {head[4]:>8} {head[5]:>10}")
    rates = {key: statistics.median(r.rate for r in runs) for key, runs in results.items()}
    for backend in dict.fromkeys(b for b, _ in results):
        for path in PATHS:
            if (backend, path) not in results:
                continue
            runs = results[(backend, path)]
            rate = rates[(backend, path)]
            p50 = statistics.median(r.p50_ms for r in runs)
            p99 = statistics.median(r.p99_ms for r in runs)
            base = BASELINE.get(path)
            of = f"{rate / rates[(backend, base)]:.0%}" if base else ""
            print(f"{backend:8} {path:10} {rate:11,.0f} {p50:8.2f} {p99:8.2f} {of:>10}")
    print(
        "target: each proxied path keeps >= 70% of the requests/s of a direct connection to the "
        "same backend\n(iptables: the pod in its netns; userspace: the loopback-mode pod)"
    )
    for (backend, path), rate in rates.items():
        if path in BASELINE and path != "nginx-proxy":
            share = rate / rates[(backend, BASELINE[path])]
            verdict = "met" if share >= 0.7 else "NOT met"
            print(f"  {backend} through {path}: {share:.0%} of direct: {verdict}")
    for (backend, path), rate in rates.items():
        if path == "nginx-proxy":
            share = rate / rates[(backend, "direct-lo")]
            print(f"  anchor: nginx as a reverse proxy to the {backend} loopback pod: {share:.0%}")
    for backend, per_request in proxy_cpu.items():
        user = statistics.median(u for u, _ in per_request)
        system = statistics.median(s for _, s in per_request)
        print(
            f"  userspace proxy CPU per request relayed ({backend}): {user + system:.1f} us "
            f"({user:.1f} in Python, {system:.1f} in the kernel)"
        )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end (1, 5, 15 min; 2 cores): {load}")


def figures(
    results: dict[tuple[str, str], list[Latency]],
    proxy_cpu: dict[str, list[tuple[float, float]]],
) -> list[Figure]:
    """Each proxied path beside a direct connection to the same backend (medians of runs)."""
    anchor_names = {
        "direct": "a direct connection to the pod in its netns",
        "direct-lo": "a direct connection to the loopback-mode pod",
    }
    out = []
    for (backend, path), runs in results.items():
        base = BASELINE.get(path)
        if base is None or (backend, base) not in results:
            continue
        direct = results[(backend, base)]
        name = anchor_names[base]
        label = f"{backend} through {path}"
        rate = statistics.median(r.rate for r in runs)
        out += [
            Figure(
                "net_proxy",
                f"{label}: requests/s",
                rate,
                "/s",
                better="higher",
                anchor=statistics.median(r.rate for r in direct),
                anchor_name=name,
                target=0.7 if path != "nginx-proxy" else None,
                of_anchor=True,
            ),
            Figure(
                "net_proxy",
                f"{label}: p99",
                statistics.median(r.p99_ms for r in runs),
                "ms",
                anchor=statistics.median(r.p99_ms for r in direct),
                anchor_name=name,
            ),
        ]
    for backend, per_request in proxy_cpu.items():
        if per_request:
            cpu = statistics.median(u + s for u, s in per_request)
            out.append(Figure("net_proxy", f"userspace proxy CPU/request ({backend})", cpu, "us"))
    return out


def run(args: argparse.Namespace, data: Path) -> None:
    with ExitStack() as stack:
        bridge, ns, pod_ip = make_pod_network(stack)
        if shutil.which("nginx") is None:
            print("nginx is not installed: the nginx backend is left out (apt-get install nginx)")
        backends = start_backends(stack, ns, pod_ip, data)
        start_backends(stack, "", LOOPBACK_POD, data)
        kernel_api = ServerProcess(
            "sqlite", data / "api-root", "--service-cluster-ip-range", ROOT_RANGE
        )
        loop_api = ServerProcess(
            "sqlite", data / "api-loopback", "--service-cluster-ip-range", LOOPBACK_RANGE
        )
        for api in (kernel_api, loop_api):
            api.data_dir.mkdir()
            stack.callback(api.stop)
            api.start()
        kernel_ips = publish(kernel_api, backends, pod_ip)
        loop_ips = publish(loop_api, backends, LOOPBACK_POD)
        settings = ProxySettings(service_cidr=ROOT_RANGE, bridge=bridge)
        stack.callback(IptablesProxier.cleanup_kernel, settings)
        iptables = ComponentProcess(
            "proxy-iptables",
            [
                *("proxy", "--mode", "iptables", "--kubeconfig", str(kernel_api.kubeconfig())),
                *("--service-cidr", ROOT_RANGE, "--bridge", bridge),
            ],
            data,
        )
        userspace = ComponentProcess(
            "proxy-userspace",
            ["proxy", "--mode", "userspace", "--kubeconfig", str(loop_api.kubeconfig())],
            data,
        )
        for proxy in (iptables, userspace):
            stack.callback(proxy.stop)
            proxy.start()
        anchored = start_anchors(stack, backends, data) if shutil.which("nginx") else set()
        urls = {}
        for b in backends:
            urls[(b.name, "direct")] = f"http://{pod_ip}:{b.port}/"
            urls[(b.name, "iptables")] = f"http://{kernel_ips[b.name]}/"
            urls[(b.name, "direct-lo")] = f"http://{LOOPBACK_POD}:{b.port}/"
            urls[(b.name, "userspace")] = f"http://{loop_ips[b.name]}/"
            if b.name in anchored:
                urls[(b.name, "nginx-proxy")] = f"http://{LOOPBACK_ANCHOR}:{b.port + 1000}/"
        for url in urls.values():
            wait_answering(url)
        results: dict[tuple[str, str], list[Latency]] = {key: [] for key in urls}
        proxy_cpu: dict[str, list[tuple[float, float]]] = {b.name: [] for b in backends}
        for i in range(args.runs):
            order = PATHS[i % len(PATHS) :] + PATHS[: i % len(PATHS)]
            for b in backends:
                for path in order:
                    if (b.name, path) not in urls:
                        continue
                    before = cpu_seconds(userspace.pid)
                    got = run_wrk(urls[(b.name, path)], "plain.lua", args.seconds, args.connections)
                    results[(b.name, path)].append(got)
                    if path == "userspace":
                        after, count = cpu_seconds(userspace.pid), max(got.count, 1)
                        proxy_cpu[b.name].append(
                            (
                                (after[0] - before[0]) / count * 1e6,
                                (after[1] - before[1]) / count * 1e6,
                            )
                        )
            print(f"  run {i + 1}/{args.runs}: done", flush=True)
        report(results, proxy_cpu, args)
        save_if_asked(args.results, figures(results, proxy_cpu))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.net_proxy", description=__doc__.split("\n")[0]
    )
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--quick", action="store_true", help="1 run of 2 s a measure")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.seconds = 1, 2.0
    if os.geteuid() != 0:
        print("bench.net_proxy needs root (a network namespace, iptables)", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("bench.net_proxy needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
            run(args, Path(tmp))
    except KeyboardInterrupt:
        print("interrupted: everything the bench made is removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

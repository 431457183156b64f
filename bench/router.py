"""HTTP router benchmark: one pod reached directly, through ``paas router`` and through nginx,
in the same run.

Run with ``make bench`` (or ``python -m bench.router [--quick]``). In one run it:

1. starts two backends on a loopback-mode pod's address (127.206.252.2), as
   pods of loopback mode listen: the Python ASGI app under uvicorn
   (``bench/helloapp.py``, what the platform typically runs) and Debian's
   nginx answering a fixed body (a fast backend, so the router's own cost
   shows);
2. starts ``paas apiserver`` and ``paas router`` (its own process, access log
   on, written to its log file as in ``paas up``), and creates per backend a
   selector-less Service, its Endpoints and an Ingress with a host-less rule
   (wrk sends the URL's host; a host-less rule is looked up after the exact
   and wildcard hosts miss, so no cheaper than a host rule);
3. as anchors on the same pod: ``nginx-proxy`` (Debian's nginx, one worker,
   keep-alive upstream connections) and ``aiohttp-proxy``
   (``bench/routeraiohttp.py``: aiohttp's server and client with no routing,
   the other stack the router could have been built on);
4. drives each path with ``wrk`` twice per run: ``--connections`` (32) for
   requests/s, then ``--latency-connections`` (4, moderate load) for p50/p99,
   ``--runs`` times with the order rotated;
5. adds the Gateway API paths (``bench/routergateway.py``): ``router-split``,
   an HTTPRoute splitting 90/10 between two Services of the same python pod
   (driven and reported like the other paths, router CPU included), and the
   activator: ``--wakes`` times, the backend at zero gets a request, which is
   held, then its Endpoints list the pod again; requests/s through that
   held-then-forwarded route and the time from the Endpoints write to the
   answer;
6. reports medians: requests/s of each path and its share of nginx-proxy's
   (target >= 50%), the latency the router adds over the direct connection
   at moderate load (target p99 <= 2 ms), and the router's CPU per request.

Like for like: the router is one process on one thread, and so is each
nginx anchor (``worker_processes 1``); the router writes an access-log line
per request (batched, ``router.accesslog``), the nginx anchors log nothing.
Everything shares the machine's cores (two here): wrk, the backend and the
proxy under test. Everything it started is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.api import run_wrk
from bench.cluster import ComponentProcess, ServerProcess
from bench.net_proxy import (
    ANCHOR_CONF,
    NGINX_CONF,
    cpu_seconds,
    start_process,
    wait_answering,
)
from bench.report import Figure, save_if_asked
from bench.routergateway import measure_wakes, publish_gateway
from bench.stats import Latency

POD = "127.206.252.2"  # a loopback-mode pod's address (127.206/16 is this work's own)
PROXIES = "127.206.252.3"  # where the router and the anchors listen, each on its own port
PATHS = ("direct", "router", "router-split", "nginx-proxy", "aiohttp-proxy")
BACKEND_PORTS = {"python": 8080, "nginx": 8081}
ROUTER_PORT, NGINX_PROXY_OFFSET, AIOHTTP_OFFSET = 18080, 1000, 2000
METRICS_PORT = 19090


def start_backends(stack: ExitStack, data: Path) -> list[str]:
    names = ["python"]
    py = [sys.executable, "-m", "uvicorn", "--host", POD, "--port", "8080", "--http", "httptools"]
    py += ["--no-access-log", "--log-level", "warning", "--app-dir", str(Path(__file__).parent)]
    start_process(stack, "", [*py, "helloapp:app"], data / "uvicorn.log")
    if shutil.which("nginx"):
        (data / "backend").mkdir()
        conf = data / "backend.conf"
        conf.write_text(NGINX_CONF.format(dir=data / "backend", listen=f"{POD}:8081"))
        start_process(stack, "", ["nginx", "-c", str(conf), "-p", str(data)], data / "nginx.log")
        names.append("nginx")
    return names


def start_anchors(stack: ExitStack, backends: list[str], data: Path) -> None:
    for name in backends:
        port = BACKEND_PORTS[name]
        if shutil.which("nginx"):
            conf = data / f"anchor-{port}.conf"
            listen, target = f"{PROXIES}:{port + NGINX_PROXY_OFFSET}", f"{POD}:{port}"
            conf.write_text(ANCHOR_CONF.format(dir=data, port=port, listen=listen, target=target))
            argv = ["nginx", "-c", str(conf), "-p", str(data)]
            start_process(stack, "", argv, data / f"anchor-{port}.log")
        argv = [sys.executable, "-m", "bench.routeraiohttp", PROXIES, str(port + AIOHTTP_OFFSET)]
        argv.append(f"http://{POD}:{port}")
        start_process(stack, "", argv, data / f"aiohttp-{port}.log")


def publish(api: ServerProcess, backends: list[str]) -> None:
    """Per backend: a selector-less Service, its Endpoints and an Ingress for it."""

    async def create() -> None:
        async with api.client() as http:
            for name in backends:
                port = BACKEND_PORTS[name]
                svc = {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}
                r = await http.post("/api/v1/namespaces/default/services", json=svc)
                r.raise_for_status()
                subset = {"addresses": [{"ip": POD}], "ports": [{"port": port}]}
                eps = {"metadata": {"name": name}, "subsets": [subset]}
                r = await http.post("/api/v1/namespaces/default/endpoints", json=eps)
                r.raise_for_status()
                backend = {"service": {"name": name, "port": {"number": 80}}}
                path = {"path": f"/{name}", "pathType": "Prefix", "backend": backend}
                ing = {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": {"name": name},
                    "spec": {"rules": [{"http": {"paths": [path]}}]},
                }
                r = await http.post(
                    "/apis/networking.k8s.io/v1/namespaces/default/ingresses", json=ing
                )
                r.raise_for_status()

    asyncio.run(create())


def figures(
    rates: dict[tuple[str, str], list[Latency]],
    latencies: dict[tuple[str, str], list[Latency]],
    cpu: dict[str, list[float]],
) -> list[Figure]:
    out = []

    def med(runs: list[Latency], field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs)

    for (backend, path), runs in rates.items():
        if path == "direct":
            continue
        nginx = rates.get((backend, "nginx-proxy"))
        out.append(
            Figure(
                "router",
                f"{backend} backend through {path}: requests/s",
                med(runs, "rate"),
                "/s",
                better="higher",
                anchor=med(nginx, "rate") if nginx and path != "nginx-proxy" else None,
                anchor_name="nginx (one worker) proxying to the same pod",
                target=0.5 if path == "router" and nginx else None,
                of_anchor=True,
            )
        )
    for (backend, path), runs in latencies.items():
        direct = latencies.get((backend, "direct"))
        if path == "direct" or not direct:
            continue
        for q in ("p50_ms", "p99_ms"):
            out.append(
                Figure(
                    "router",
                    f"{backend} backend through {path}: added {q[:3]} at moderate load",
                    med(runs, q) - med(direct, q),
                    "ms",
                    anchor_name="a direct connection to the pod",
                    target=2.0 if path == "router" and q == "p99_ms" else None,
                )
            )
    for backend, per_request in cpu.items():
        if per_request:
            out.append(
                Figure(
                    "router",
                    f"router CPU/request ({backend} backend)",
                    statistics.median(per_request),
                    "us",
                )
            )
    return out


def wake_figures(rate: float, p50: float, p99: float) -> list[Figure]:
    """The activator: one request held per wake, released by an Endpoints write (0 -> 1)."""
    return [
        Figure("router", "activator: held-then-forwarded requests/s (one wake each)", rate, "/s"),
        Figure("router", "activator: Endpoints ready -> answer, p50", p50, "ms"),
        Figure("router", "activator: Endpoints ready -> answer, p99", p99, "ms"),
    ]


COMPARED = (
    "router: one process, one thread, access log on (batched); "
    "nginx anchors: worker_processes 1, access_log off"
)


def report(figs: list[Figure]) -> None:
    print(COMPARED)
    print(f"{'figure':<66} {'value':>10}  {'anchor':>10}  target")
    for f in figs:
        anchor = f"{f.anchor:10.1f}" if f.anchor is not None else " " * 10
        met = {True: "met", False: "MISSED", None: ""}[f.met]
        share = f" ({f.of_anchor_value:.0%} of anchor)" if f.of_anchor_value is not None else ""
        print(f"{f.name:<66} {f.value:10.2f}{f.unit:<2} {anchor}  {met}{share}")


def run(args: argparse.Namespace, data: Path) -> None:
    with ExitStack() as stack:
        if shutil.which("nginx") is None:
            print("nginx is not installed: no nginx anchor or backend (apt-get install nginx)")
        backends = start_backends(stack, data)
        api = ServerProcess("sqlite", data / "api")
        api.data_dir.mkdir()
        stack.callback(api.stop)
        api.start()
        publish(api, backends)
        publish_gateway(api, POD, BACKEND_PORTS["python"])
        router = ComponentProcess(
            "router",
            [
                *("router", "--kubeconfig", str(api.kubeconfig()), "--host", PROXIES),
                *("--http-port", str(ROUTER_PORT), "--metrics-port", str(METRICS_PORT)),
            ],
            data,
        )
        stack.callback(router.stop)
        router.start()
        start_anchors(stack, backends, data)
        urls: dict[tuple[str, str], str] = {}
        for name in backends:
            port = BACKEND_PORTS[name]
            urls[(name, "direct")] = f"http://{POD}:{port}/{name}"
            urls[(name, "router")] = f"http://{PROXIES}:{ROUTER_PORT}/{name}"
            if shutil.which("nginx"):
                urls[(name, "nginx-proxy")] = f"http://{PROXIES}:{port + NGINX_PROXY_OFFSET}/{name}"
            urls[(name, "aiohttp-proxy")] = f"http://{PROXIES}:{port + AIOHTTP_OFFSET}/{name}"
        # the weighted split (HTTPRoute, 90/10 between two Services of the same python pod)
        urls[("python", "router-split")] = f"http://{PROXIES}:{ROUTER_PORT}/split"
        for url in urls.values():
            wait_answering(url)
        rates: dict[tuple[str, str], list[Latency]] = {key: [] for key in urls}
        latencies: dict[tuple[str, str], list[Latency]] = {key: [] for key in urls}
        cpu: dict[str, list[float]] = {
            f"{name}, {path}": [] for name, path in urls if path.startswith("router")
        }
        for i in range(args.runs):
            order = PATHS[i % len(PATHS) :] + PATHS[: i % len(PATHS)]
            for name in backends:
                for path in order:
                    if (name, path) not in urls:
                        continue
                    url = urls[(name, path)]
                    before = cpu_seconds(router.pid)
                    got = run_wrk(url, "plain.lua", args.seconds, args.connections)
                    if path in ("router", "router-split"):
                        after = cpu_seconds(router.pid)
                        used = after[0] + after[1] - before[0] - before[1]
                        cpu[f"{name}, {path}"].append(used / max(got.count, 1) * 1e6)
                    rates[(name, path)].append(got)
                    latency = run_wrk(url, "plain.lua", args.seconds, args.latency_connections)
                    latencies[(name, path)].append(latency)
            print(f"  run {i + 1}/{args.runs}: done", flush=True)
        router_url = f"http://{PROXIES}:{ROUTER_PORT}"
        wakes = measure_wakes(
            api,
            router_url,
            f"http://{PROXIES}:{METRICS_PORT}",
            POD,
            BACKEND_PORTS["python"],
            args.wakes,
        )
        figs = figures(rates, latencies, cpu) + wake_figures(*wakes)
        report(figs)
        save_if_asked(args.results, figs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.router", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    p.add_argument("--connections", type=int, default=32, help="for requests/s")
    p.add_argument(
        "--latency-connections", type=int, default=4, help="for added latency (moderate load)"
    )
    p.add_argument("--wakes", type=int, default=50, help="activator wakes (0 -> 1) timed")
    p.add_argument("--quick", action="store_true", help="1 run of 2 s a measure")
    p.add_argument("--results", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.seconds, args.wakes = 1, 2.0, 10
    if shutil.which("wrk") is None:
        print("bench.router needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="bench-router-") as tmp:
            run(args, Path(tmp))
    except KeyboardInterrupt:
        print("interrupted: everything the bench started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``paas up``: the whole platform on one machine, in the foreground.

The flags become one ``UpSettings`` (``paas/up/settings.py``) after the
preflight (``paas/cli/preflight.py``) has checked what the machine has and
chosen the runtime and network mode: a mode or runtime named explicitly
that cannot work is refused here, with exit 2, before anything is made.
``paas/up/platform.py`` then starts the components of
``paas/up/components.py`` in order, prints the banner, supervises them and,
on Ctrl-C, stops them and cleans up after the node agent.

On the Docker runtime ``paas up`` also runs the image registry Dockerfile
builds push to (``docker-registry``, paas/up/registry.py); without it
installed, a note says that images stay on the engine that built them.

On the Docker runtime the stack image (``paas/stack:bookworm``) is built
first when missing (mmdebstrap + docker import, its progress shown), so
that the README's example runs on a new machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import sys
from pathlib import Path

from builder.names import InvalidName, check_app_name
from paas.cli.node import docker_url, machine_plan
from paas.cli.preflight import NETWORK_MODES, RUNTIMES, PreflightError
from paas.up.platform import Platform
from paas.up.settings import UpSettings
from router.dnsforward import parse_upstream

log = logging.getLogger("paas.up")
REGISTRY_BINARY = "docker-registry"  # Debian's distribution 2.8: the Docker runtime's registry


def add_up_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("up", help="start the whole platform on this machine")
    p.add_argument("--data-dir", type=Path, default=Path.home() / ".paas")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--api-port", type=int, default=6443, help="0 picks a free port")
    p.add_argument(
        "--http-port",
        type=int,
        default=8080,
        help="the router's port (app URLs); 0 picks a free one",
    )
    p.add_argument("--dns-port", type=int, default=5353)
    p.add_argument(
        "--registry-port",
        type=int,
        default=5000,
        help="the image registry's port on 127.0.0.1 (Docker runtime: Dockerfile images are "
        "pushed there for the nodes to pull); 0 picks a free one",
    )
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="node runtime; auto: docker when an engine answers and root mode can run, "
        "else process; "
        "simulated marks pods Running without starting them (benchmarks)",
    )
    p.add_argument(
        "--network",
        choices=NETWORK_MODES,
        default="auto",
        help="root: pod network namespaces, cluster IPs in 10.96.0.0/16 by kernel DNAT and a "
        "cluster DNS pods use at 10.96.0.10; loopback: 127.x pods, cluster IPs in 127.10.0.0/16; "
        "auto: root as root when ip, iptables and conntrack are there, else loopback (says why)",
    )
    p.add_argument(
        "--dns-upstream",
        type=upstream_flag,
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="resolver the cluster DNS forwards names outside the cluster to (repeatable; "
        "none: such names are REFUSED, nothing goes to this machine's resolver)",
    )
    p.add_argument("--nodes", type=int, default=1, help="simulated nodes to run (simulated only)")
    p.add_argument("--node-name", default="", help="the node's name (default: this host's name)")
    p.add_argument("--store", default="sqlite", help="sqlite or etcd://HOST:PORT[,HOST:PORT...]")
    p.add_argument(
        "--cluster-cidr",
        default="10.244.0.0/16",
        help="pod addresses: each node gets a /24 of this range",
    )
    p.add_argument("--domain", default="localhost")
    p.add_argument(
        "--example",
        type=example_flag,
        metavar="DIR",
        help="once up, git push DIR (e.g. examples/python-flask) as the app named after it and "
        "print its live URL; DIR is copied into DATA_DIR/example/, never changed",
    )
    p.add_argument(
        "--hpa-sync-period",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between two looks at each HorizontalPodAutoscaler (Kubernetes' 15 s)",
    )
    p.add_argument(
        "--hpa-downscale-stabilization",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="an HPA without behavior scales down to the highest recommendation of this window",
    )
    p.add_argument(
        "--hpa-cpu-initialization-period",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="after a pod starts, its cpu samples count only once it is Ready for a window",
    )
    p.add_argument(
        "--autoscale-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="the autoscaler's stable window: load is averaged over it (Knative's 60 s)",
    )
    p.add_argument(
        "--scale-to-zero-grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="an idle revision keeps its last pod this long after the window (Knative's 30 s)",
    )
    p.add_argument(
        "--scale-to-zero",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let idle previews and Knative Services go to zero pods (default: on)",
    )
    p.add_argument(
        "--stats-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how often the node reads its pods' CPU and memory (`kubectl top`; cAdvisor's 10 s)",
    )
    p.set_defaults(func=run_up)


def upstream_flag(text: str) -> str:
    """An upstream resolver as the flag gives it, checked before anything starts."""
    try:
        parse_upstream(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def example_flag(text: str) -> Path:
    """An example directory whose name is a valid app name, checked before anything starts."""
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory")
    try:
        check_app_name(path.name)
    except InvalidName as exc:
        raise argparse.ArgumentTypeError(f"{text}: its name is the app's: {exc}") from None
    return path


def settings_from(args: argparse.Namespace) -> UpSettings:
    """The flags as settings, with the runtime and network the preflight chose."""
    if args.runtime != "simulated" and args.nodes != 1:
        raise PreflightError("--nodes is for --runtime simulated; a real node runs per machine")
    chosen = machine_plan(args.runtime, args.network)
    registry, notes = registry_binary(chosen.runtime)
    return UpSettings(
        data_dir=args.data_dir.expanduser().resolve(),
        host=args.host,
        api_port=args.api_port,
        http_port=args.http_port,
        dns_port=args.dns_port,
        runtime=chosen.runtime,
        network=chosen.network,
        notes=(*chosen.notes, *notes),
        dns_upstreams=tuple(args.dns_upstream),
        nodes=args.nodes,
        node_name=args.node_name,
        store=args.store,
        cluster_cidr=args.cluster_cidr,
        hpa_sync_period=args.hpa_sync_period,
        hpa_downscale_stabilization=args.hpa_downscale_stabilization,
        hpa_cpu_initialization_period=args.hpa_cpu_initialization_period,
        domain=args.domain,
        docker_url=docker_url(),
        example=args.example,
        registry_port=args.registry_port,
        registry_binary=registry,
        autoscale_window=args.autoscale_window,
        scale_to_zero_grace=args.scale_to_zero_grace,
        stats_interval=args.stats_interval,
        scale_to_zero=args.scale_to_zero,
    )


def registry_binary(runtime: str) -> tuple[str, tuple[str, ...]]:
    """docker-registry's path on the Docker runtime, or "" and a note saying what that means."""
    if runtime != "docker":
        return "", ()
    found = shutil.which(REGISTRY_BINARY)
    if found:
        return found, ()
    return "", (
        f"{REGISTRY_BINARY} is not installed: Dockerfile images stay on the engine that built "
        "them, so only this node can run them (Debian: apt-get install docker-registry)",
    )


def ensure_stack_image(settings: UpSettings) -> None:
    """Build the Docker stack image when it is missing, showing mmdebstrap's progress."""
    from orchestrator.kubelet.stack import StackBuildError, StackSettings, build_stack_image

    def progress(line: str) -> None:
        print(f"  stack image: {line}", flush=True)

    try:
        result = build_stack_image(StackSettings(docker_url=settings.docker_url), progress=progress)
    except StackBuildError as exc:
        print(
            f"paas up: the stack image could not be built ({exc}); pods using "
            "paas/stack:bookworm will not start until `paas stack build` succeeds",
            file=sys.stderr,
        )
        return
    if result.built:
        print(f"built {result.image} in {result.seconds:.0f}s", flush=True)


def run_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness probes: not news
    try:
        settings = settings_from(args)
    except PreflightError as exc:
        print(f"paas up: {exc}", file=sys.stderr)
        return 2
    if settings.runtime == "docker":
        ensure_stack_image(settings)
    return asyncio.run(_run(settings))


async def _run(settings: UpSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await Platform(settings).run(stop)

"""``paas node --kubeconfig FILE``: a node agent joining a cluster.

Its credential never goes on the command line, where ``/proc/PID/cmdline``
shows it to every local user: the node reads the API's URL, the CA and its
token from a kubeconfig (``--kubeconfig``, which ``paas up`` writes for it),
or takes ``--join URL --ca FILE --token-file FILE``. ``--token TOKEN`` is
still accepted, with a warning saying why it should not be used.

Runtimes (``--runtime``):

- ``process``: each container a process group under a supervisor of ours
  (network namespaces, cgroups and mount namespaces as root; a loopback
  address per pod without root);
- ``docker``: containers through the local Docker engine (``$DOCKER_HOST``
  or its default socket);
- ``auto`` (the default): docker when an engine answers, else process;
- ``simulated``: a test and benchmark tool that registers nodes and marks
  their pods Running without starting anything; ``--count N`` runs N of
  them in this one process, named ``NAME-0`` ... ``NAME-(N-1)``.

A real node keeps its state under ``--data-dir`` (the runtime's records,
pod volumes, claims, its serving certificate, unpacked slugs; slugs missing
there are fetched from ``--slug-source``, the builder's URL) and serves container logs to
the API server over HTTPS. Stopping the agent (SIGTERM, SIGINT) leaves its
pods running, so that a restarted agent adopts them; with
``--stop-pods-on-exit`` (``paas up`` uses it) it stops them first.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator import pki
from orchestrator.client.config import ClientConfig, KubeconfigError, load_kubeconfig
from orchestrator.client.rest import APIClient
from orchestrator.kubelet.simulated import SimulatedNodeSettings, run_simulated_nodes
from paas.cli.logs import setup_logging
from paas.cli.preflight import NETWORK_MODES, RUNTIMES, Machine, Plan, PreflightError, plan
from paas.cli.signals import until_signal
from paas.up.settings import SERVICE_CIDRS

log = logging.getLogger("paas.node")
DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock"
SIMULATED_CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}


def add_node_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("node", help="run a node agent that joins a cluster")
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="the API's URL, CA and the node's token (what paas up gives its node)",
    )
    p.add_argument(
        "--join", metavar="URL", help="the API server, https://h:p (default: the kubeconfig's)"
    )
    p.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="a file holding the node's own token (paas token create --node NAME)",
    )
    p.add_argument(
        "--token",
        help="the node's token itself; avoid: every local user can read it in the process list "
        "(use --kubeconfig or --token-file). The simulated runtime acts for all its nodes with "
        "one token: give it an admin one (--role admin), for benchmarks only",
    )
    p.add_argument("--name", default="", help="node name (default: this host's name)")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="auto: docker when an engine answers, else process; "
        "simulated: a test and benchmark tool that starts no processes",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path.home() / ".paas" / "node",
        help="the node's state: runtime records, volumes, claims, certificate",
    )
    p.add_argument("--pod-cidr", default="", help="pod range (default: the Node's spec.podCIDR)")
    p.add_argument("--address", default="", help="the node's InternalIP (default: a 127.x address)")
    p.add_argument("--port", type=int, default=0, help="HTTPS port for logs (0 picks one)")
    p.add_argument(
        "--cluster-cidr",
        default="10.244.0.0/16",
        help="all pods' range (docker: traffic to it is not masqueraded)",
    )
    p.add_argument(
        "--network",
        choices=NETWORK_MODES,
        default="auto",
        help="root: a network namespace per pod and kernel rules for services (needs root); "
        "loopback: a 127.x address per pod and a proxy binding 127.10/16; auto: root as root",
    )
    p.add_argument(
        "--service-cidr",
        default="",
        help="the cluster IP range the node's service proxy serves "
        "(default: 10.96.0.0/16 in root mode, 127.10.0.0/16 in loopback mode)",
    )
    p.add_argument(
        "--no-service-proxy",
        action="store_true",
        help="do not run the service proxy in this node",
    )
    p.add_argument(
        "--cluster-dns",
        action="append",
        default=[],
        metavar="IP",
        help="the cluster DNS pods' resolv.conf names (repeatable; none: pods use the node's)",
    )
    p.add_argument("--cluster-domain", default="cluster.local", help="the cluster's DNS zone")
    p.add_argument(
        "--stop-pods-on-exit",
        action="store_true",
        help="stop every pod of this node when the agent stops (default: they keep running)",
    )
    p.add_argument(
        "--teardown",
        action="store_true",
        help="remove what this node left on the machine (its pods, their network namespaces, "
        "the node bridge, the service route and rules) and exit: for a node that crashed",
    )
    p.add_argument(
        "--slug-source",
        default="",
        metavar="URL",
        help="the builder slugs are fetched from on first use "
        "(GET URL/slugs/sha256:<hex>.tar.gz, checked against the digest)",
    )
    p.add_argument(
        "--slug-dir",
        type=Path,
        default=None,
        help="where slugs are unpacked (default: DATA_DIR/slugs)",
    )
    p.add_argument(
        "--stats-interval",
        type=float,
        default=10.0,
        help="seconds between CPU and memory readings of the pods (cAdvisor's 10 s; 0: none)",
    )
    p.add_argument("--count", type=int, default=1, help="simulated nodes to run in this process")
    trust = p.add_mutually_exclusive_group()
    trust.add_argument("--ca", type=Path, help="the cluster CA certificate (PEM)")
    trust.add_argument(
        "--insecure", action="store_true", help="do not verify the API server's certificate"
    )
    p.add_argument("--cpu", default=None, help="cpu capacity reported (default: this machine's)")
    p.add_argument(
        "--memory", default=None, help="memory capacity reported (default: this machine's)"
    )
    p.add_argument("--pods", default=None, help="pod capacity reported (default 110)")
    p.set_defaults(func=run_node)


def node_names(name: str, count: int) -> list[str]:
    base = (name or socket.gethostname()).lower()
    return [base] if count == 1 else [f"{base}-{i}" for i in range(count)]


def docker_url() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_URL


def docker_answers(url: str) -> bool:
    """Whether a Docker engine answers a ping at ``url`` (quickly: this decides ``auto``)."""
    try:
        from orchestrator.kubelet.runtimes.docker import engine_answers
    except ImportError:  # the docker SDK is missing: no engine for us
        return False
    return engine_answers(url)


def machine_plan(runtime: str, network: str) -> Plan:
    """``preflight.plan`` on this machine; the engine is asked only where Docker may be chosen."""
    url = docker_url()
    machine = Machine.probe(
        docker=lambda: runtime in ("auto", "docker") and docker_answers(url), docker_url=url
    )
    return plan(runtime, network, machine)


class NodeCredentialError(Exception):
    """Where the node's API server or token should come from, and what is wrong with it."""


TOKEN_FLAG_WARNING = (
    "paas node: warning: --token puts the node's credential on the command line, where every "
    "local user can read it (ps, /proc/PID/cmdline); use --kubeconfig FILE or --token-file FILE"
)


def client_config(args: argparse.Namespace) -> ClientConfig:
    """The node's connection: a kubeconfig, overridden by ``--join``/``--ca``/``--token-file``.

    Exactly one source of the token: the kubeconfig's, ``--token-file`` or ``--token``.
    """
    base = ClientConfig(server="")
    if args.kubeconfig is not None:
        try:
            base = load_kubeconfig(args.kubeconfig.expanduser())
        except (KubeconfigError, OSError) as exc:
            raise NodeCredentialError(str(exc)) from None
    if args.token_file is not None and args.token is not None:
        raise NodeCredentialError("give --token-file or --token, not both")
    token = base.token
    if args.token_file is not None:
        try:
            token = args.token_file.expanduser().read_text().strip()
        except OSError as exc:
            raise NodeCredentialError(
                f"cannot read --token-file {args.token_file}: {exc}"
            ) from None
        if not token:
            raise NodeCredentialError(f"--token-file {args.token_file} is empty")
    elif args.token is not None:
        print(TOKEN_FLAG_WARNING, file=sys.stderr)
        token = args.token
    server = (args.join or base.server).rstrip("/")
    if not (server and token):
        raise NodeCredentialError(
            "give --kubeconfig FILE, or --join URL and --token-file FILE "
            "(the API server and the node's token)"
        )
    ca = base.ca_data
    if args.ca is not None:
        try:
            ca = args.ca.expanduser().read_bytes()
        except OSError as exc:
            raise NodeCredentialError(f"cannot read the CA file {args.ca}: {exc}") from None
    insecure = args.insecure or (base.insecure and args.ca is None)
    return ClientConfig(server=server, token=token, ca_data=ca, insecure=insecure)


def capacity(args: argparse.Namespace, base: dict[str, str]) -> dict[str, str]:
    given = {"cpu": args.cpu, "memory": args.memory, "pods": args.pods}
    return {**base, **{k: v for k, v in given.items() if v is not None}}


def run_node(args: argparse.Namespace) -> int:
    setup_logging("node")
    if args.teardown:
        return teardown_node(node_names(args.name, 1)[0], args)
    if args.count < 1:
        raise SystemExit("paas node: --count must be at least 1")
    try:
        config = client_config(args)
    except NodeCredentialError as exc:
        print(f"paas node: {exc}", file=sys.stderr)
        return 2
    ca = config.ca_data
    try:
        chosen = machine_plan(args.runtime, args.network)
    except PreflightError as exc:
        raise SystemExit(f"paas node: {exc}") from None
    for note in chosen.notes:
        log.info("%s", note)
    runtime = chosen.runtime
    if runtime == "simulated":
        settings = SimulatedNodeSettings(capacity=capacity(args, SIMULATED_CAPACITY))
        return asyncio.run(_serve_simulated(config, node_names(args.name, args.count), settings))
    if args.count != 1:
        raise SystemExit("paas node: --count is for the simulated runtime only")
    args.network_mode = chosen.network
    args.service_cidr = args.service_cidr or SERVICE_CIDRS[args.network_mode]
    args.data_dir = pki.ensure_private_dir(args.data_dir.expanduser().resolve())  # keys, volumes
    return asyncio.run(_serve_real(config, runtime, node_names(args.name, 1)[0], args, ca))


async def _serve_simulated(
    config: ClientConfig, names: list[str], settings: SimulatedNodeSettings
) -> int:
    async with APIClient(config) as client:
        return 1 if await until_signal(run_simulated_nodes(client, names, settings)) else 0


def make_runtime(kind: str, name: str, data_dir: Path, args: argparse.Namespace) -> Any:
    if kind == "docker":
        from orchestrator.kubelet.runtimes.docker import DockerRuntime, DockerSettings
        from orchestrator.kubelet.runtimes.dockerslugs import SlugSource

        slugs = SlugSource(
            slug_dir=(getattr(args, "slug_dir", None) or data_dir / "slugs").expanduser(),
            source=getattr(args, "slug_source", ""),
        )
        return DockerRuntime(name, DockerSettings(docker_url=docker_url(), slugs=slugs))
    from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings

    settings = ProcessRuntimeSettings(
        network=args.network_mode,
        slug_dir=(getattr(args, "slug_dir", None) or data_dir / "slugs").expanduser(),
        slug_source=getattr(args, "slug_source", ""),
    )
    return ProcessRuntime(data_dir / "runtime", name, settings)


async def _serve_real(
    config: ClientConfig, kind: str, name: str, args: argparse.Namespace, ca: bytes | None
) -> int:
    from orchestrator.kubelet.agent import Kubelet, KubeletSettings, stop_all_pods
    from orchestrator.kubelet.machine import machine_capacity, os_image
    from orchestrator.kubelet.podsync import PodSyncSettings
    from orchestrator.kubelet.registration import node_addresses
    from orchestrator.kubelet.server import KubeletServer, KubeletServerSettings
    from orchestrator.kubelet.statssampler import StatsSampler, StatsSettings
    from orchestrator.metrics.delegated import DelegatedAuth

    data_dir: Path = args.data_dir
    settings = KubeletSettings(
        capacity=capacity(args, machine_capacity()),
        address=args.address,
        os_image=os_image(),
        state_dir=data_dir / "kubelet",
        pod_cidr=args.pod_cidr,
        pod_sync=PodSyncSettings(
            cluster_dns=tuple(args.cluster_dns), cluster_domain=args.cluster_domain
        ),
    )
    address = node_addresses(name, settings)[0]["address"]
    settings = replace(settings, address=address)
    runtime = make_runtime(kind, name, data_dir, args)
    interval = float(getattr(args, "stats_interval", 10.0))
    sampler = StatsSampler(
        runtime, name, StatsSettings(interval=interval or 10.0, enabled=interval > 0)
    )
    server = KubeletServer(
        runtime,
        KubeletServerSettings(
            cert_dir=data_dir / "pki", host=address, port=args.port, client_ca=ca
        ),
        stats=sampler,
    )
    log.info("node %s: %s runtime, state in %s", name, kind, data_dir)
    async with APIClient(config) as client:
        server.delegate(DelegatedAuth(client), name)  # bearer tokens: /metrics for Prometheus
        kubelet = Kubelet(client, name, runtime, settings, server=server, stats=sampler)
        proxier = _service_proxy(client, kind, name, args)
        crashed = await until_signal(_run_all(kubelet, proxier))
    if args.stop_pods_on_exit and not crashed:  # a crash is restarted, and adopts them
        log.info("node %s: stopping its pods", name)
        await stop_all_pods(make_runtime(kind, name, data_dir, args), kubelet.pod_cidr)
    return 1 if crashed else 0


def _service_proxy(client: APIClient, kind: str, name: str, args: argparse.Namespace) -> Any:
    """The node's service proxy for its network mode (None where none can run).

    Root mode: kernel rules, with the service range routed to the runtime's
    pod bridge (the process runtime's or the node's Docker network's).
    Loopback mode: a proxy in this process binding the 127.10/16 cluster IPs.
    A stop keeps the kernel rules (a restarted node replaces them) unless
    the node stops its pods too.
    """
    if args.no_service_proxy:
        return None
    if args.network_mode == "loopback":
        from orchestrator.proxy.userspace import UserspaceProxier, UserspaceSettings

        log.info("node %s: userspace service proxy for %s", name, args.service_cidr)
        return UserspaceProxier(client, UserspaceSettings())
    from orchestrator.proxy.proxier import IptablesProxier  # root mode: preflight saw to root

    settings = _proxy_settings(kind, name, args)
    log.info("node %s: service proxy for %s via %s", name, settings.service_cidr, settings.bridge)
    return IptablesProxier(client, settings)


def _proxy_settings(kind: str, name: str, args: argparse.Namespace) -> Any:
    """The root-mode proxy's settings: the service range routed to the node's pod bridge."""
    from orchestrator.kubelet.podnet import bridge_name  # both runtimes' pods are on it
    from orchestrator.proxy.proxier import ProxySettings

    return ProxySettings(
        service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr,
        bridge=bridge_name(name),
        cleanup_on_exit=args.stop_pods_on_exit,  # no pods left here: no services either
    )


def teardown_node(name: str, args: argparse.Namespace) -> int:
    """``--teardown``: remove every trace of the node from this machine, step by step.

    Needs no API server and no preflight (it runs after a crash, whatever
    the crash left): each step is tried even when one before it failed,
    and a step with nothing to remove does nothing. Exit 1 if any failed.
    """
    root = os.geteuid() == 0
    kind = (
        args.runtime
        if args.runtime != "auto"
        else ("docker" if docker_answers(docker_url()) else "process")
    )
    args.network_mode = args.network if args.network != "auto" else ("root" if root else "loopback")
    args.service_cidr = args.service_cidr or SERVICE_CIDRS[args.network_mode]
    data_dir = args.data_dir.expanduser().resolve()
    steps: list[tuple[str, Callable[[], object]]] = []
    if kind == "docker":
        from orchestrator.kubelet.runtimes.docker import purge_node as purge_containers

        steps.append(
            ("containers and Docker network", lambda: purge_containers(name, docker_url()))
        )
    elif kind == "process":
        from orchestrator.kubelet.runtimes.process import purge_node

        runtime = make_runtime(kind, name, data_dir, args)
        steps.append(("pods", lambda: asyncio.run(runtime.teardown())))
        if root:
            steps.append(("pod network and cgroups", lambda: purge_node(name)))
    if args.network_mode == "root" and root and kind != "simulated":
        from orchestrator.proxy.proxier import IptablesProxier

        settings = _proxy_settings(kind, name, args)
        steps.append(("service rules and route", lambda: IptablesProxier.cleanup_kernel(settings)))
    failed = 0
    for what, step in steps:
        try:
            step()
        except Exception as exc:
            log.warning("node %s: could not remove its %s: %s", name, what, exc)
            failed += 1
        else:
            log.info("node %s: removed its %s", name, what)
    return 1 if failed else 0


async def _run_all(kubelet: Any, proxier: Any) -> None:
    """The node agent and its service proxy together: either ending ends both."""
    async with asyncio.TaskGroup() as tg:
        tg.create_task(kubelet.run())
        if proxier is not None:
            tg.create_task(proxier.run())

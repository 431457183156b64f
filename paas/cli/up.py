"""``paas up``: the whole platform on one machine, in the foreground.

Prepares the data dir once (CA, serving certificate, admin token) and then
starts each component as a child process under the supervisor, writing
``kubeconfig``, ``admin.token``, ``ca.crt`` and ``endpoints.json`` as soon as
the API answers ``/readyz``. A port of 0 is resolved on the first start and
kept for restarts, so the files written stay valid.

Components, in start order: the API server, the cluster DNS (on
``--host``:``--dns-port``, answering ``<svc>.<ns>.svc.cluster.local`` and
the app domain), the controller-manager, the scheduler and a node agent
(each its own process, restarted if it dies).
The node is one real node agent named after this host, on the Docker
runtime when an engine answers and the process runtime otherwise
(``--runtime auto``), its state in ``DIR/node``; a node restarted by the
supervisor adopts the pods still running, and stopping ``paas up`` stops
them. ``--runtime simulated`` runs ``--nodes`` simulated nodes instead (pods
marked Running, nothing started: for benchmarks).

``--network`` picks one of DESIGN.md's two modes for the whole cluster:
root (the default as root) gives Services cluster IPs from 10.96.0.0/16,
served by kernel DNAT on the node, and publishes the DNS as
``kube-system/kube-dns`` at 10.96.0.10, which every pod's resolv.conf
names, and the API server as ``default/kubernetes`` at 10.96.0.1:443
(``https://kubernetes.default.svc`` from a pod); loopback (the default
otherwise) takes cluster IPs from 127.10.0.0/16, bound by the node's
userspace proxy. Components that later
issues add (router, builder) join the same list; --http-port is accepted
now so that scripts written against DESIGN.md's interface keep working.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import ssl
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from orchestrator.apiserver.auth import add_token
from orchestrator.client.config import write_kubeconfig
from orchestrator.kubelet.podstatus import condition
from paas.cli.components import kubelet_client_cert, serving_cert
from paas.cli.node import NETWORK_MODES, SERVICE_CIDRS, choose_runtime, network_mode, node_names
from paas.supervisor import Component, Supervisor
from router.dnsforward import parse_upstream

log = logging.getLogger("paas.up")


def add_up_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("up", help="start the whole platform on this machine")
    p.add_argument("--data-dir", type=Path, default=Path.home() / ".paas")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--api-port", type=int, default=6443, help="0 picks a free port")
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--dns-port", type=int, default=5353)
    p.add_argument(
        "--runtime",
        choices=("auto", "process", "docker", "simulated"),
        default="auto",
        help="node runtime; auto: docker when an engine answers, else process; "
        "simulated marks pods Running without starting them (benchmarks)",
    )
    p.add_argument(
        "--network",
        choices=NETWORK_MODES,
        default="auto",
        help="root: pod network namespaces, cluster IPs in 10.96.0.0/16 by kernel DNAT and a "
        "cluster DNS pods use at 10.96.0.10; loopback: 127.x pods, cluster IPs in 127.10.0.0/16; "
        "auto: root as root",
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
    p.set_defaults(func=run_up)


def lowest_unprivileged_port(
    path: Path = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start"),
) -> int:
    """The lowest port a process without privileges may bind (1 where the kernel has no rule)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 1


def upstream_flag(text: str) -> str:
    """An upstream resolver as the flag gives it, checked before anything starts."""
    try:
        parse_upstream(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def ensure_admin_token(data_dir: Path) -> str:
    token_path = data_dir / "admin.token"
    if token_path.exists():
        return token_path.read_text().strip()
    token = add_token(data_dir / "tokens.json", user="admin", role="admin")
    token_path.write_text(token + "\n")
    os.chmod(token_path, 0o600)
    return token


def ensure_node_token(data_dir: Path) -> str:
    token_path = data_dir / "node.token"
    if token_path.exists():
        return token_path.read_text().strip()
    token = add_token(data_dir / "tokens.json", user="node", role="node")
    token_path.write_text(token + "\n")
    os.chmod(token_path, 0o600)
    return token


def _api_get(url: str, ca: Path, token: str = "") -> bytes | None:
    """The body of a successful GET to the API, or None (refused, an error status, no answer)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), context=ctx, timeout=2
        ) as r:
            return bytes(r.read())
    except OSError:
        return None


def _readyz(url: str, ca: Path) -> bool:
    return _api_get(f"{url}/readyz", ca) is not None


def _nodes(url: str, ca: Path, token: str) -> list[dict[str, Any]]:
    """The API's Node objects ([] while it cannot tell)."""
    try:
        items = json.loads(_api_get(f"{url}/api/v1/nodes", ca, token) or b"{}").get("items")
    except ValueError:
        return []
    return list(items or [])


def _boot_id(node: dict[str, Any]) -> str:
    return str(node.get("status", {}).get("nodeInfo", {}).get("bootID", ""))


def _ready_nodes(url: str, ca: Path, token: str, stale: dict[str, str]) -> int:
    """How many nodes report Ready=True from an agent started since ``stale`` was read.

    ``stale`` maps node names to the boot IDs their objects had before: a
    data dir used before still holds a Node that says Ready from the last run.
    """
    return sum(
        _boot_id(node) != stale.get(node.get("metadata", {}).get("name", ""))
        and condition(node, "Ready") == "True"
        for node in _nodes(url, ca, token)
    )


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def run_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runtime = choose_runtime(args.runtime)
    if runtime != "simulated" and args.nodes != 1:
        print(
            "paas up: --nodes is for --runtime simulated; a real node runs per machine",
            file=sys.stderr,
        )
        return 2
    try:
        network = network_mode(args.network, runtime)
    except SystemExit as exc:
        print(str(exc).replace("paas node:", "paas up:"), file=sys.stderr)
        return 2
    service_cidr = SERVICE_CIDRS[network]
    dns_ip = str(ipaddress.ip_network(service_cidr).network_address + 10)
    data_dir: Path = args.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    wildcard = args.host in ("0.0.0.0", "::", "localhost")
    router_ip = "127.0.0.1" if wildcard else args.host
    # Root mode: pods reach the API as https://kubernetes.default.svc (10.96.0.1:443, DNATed
    # here; the range is IPv4). Loopback mode leaves it out: its proxy could not bind port 443
    # without root.
    advertise = router_ip if network == "root" and ":" not in router_ip else ""
    cert = serving_cert(data_dir, args.host, service_cidr if advertise else "")
    kubelet_client = kubelet_client_cert(data_dir)  # the API server's, for node agents' HTTPS
    assert kubelet_client is not None  # serving_cert made the CA
    token = ensure_admin_token(data_dir)
    address_file = data_dir / "run" / "apiserver.url"
    address_file.unlink(missing_ok=True)
    endpoints_path = data_dir / "endpoints.json"
    endpoints_path.unlink(missing_ok=True)

    supervisor = Supervisor()
    port = args.api_port

    def apiserver_argv() -> list[str]:
        return [
            sys.executable,
            "-m",
            "paas",
            "apiserver",
            "--data-dir",
            str(data_dir),
            "--host",
            args.host,
            "--port",
            str(port),
            "--store",
            args.store,
            "--tls-cert",
            str(cert.cert),
            "--tls-key",
            str(cert.key),
            "--tokens-file",
            str(data_dir / "tokens.json"),
            "--address-file",
            str(address_file),
            "--kubelet-client-cert",
            str(kubelet_client.cert),
            "--kubelet-client-key",
            str(kubelet_client.key),
            "--service-cluster-ip-range",
            service_cidr,
            *(["--advertise-address", advertise] if advertise else []),
        ]

    def api_ready() -> bool:
        return address_file.exists() and _readyz(
            address_file.read_text().strip(), data_dir / "ca.crt"
        )

    api = Component(
        "apiserver", apiserver_argv(), data_dir / "logs" / "apiserver.log", ready=api_ready
    )
    supervisor.add(api)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        started = time.monotonic()
        supervisor.start(api)
        url = address_file.read_text().strip()
        port = int(url.rsplit(":", 1)[1])
        api.argv = apiserver_argv()  # restarts keep the port the kubeconfig names
        write_kubeconfig(
            data_dir / "kubeconfig",
            server=url,
            token=token,
            ca_pem=(data_dir / "ca.crt").read_bytes(),
        )
        kubeconfig = str(data_dir / "kubeconfig")
        logs = data_dir / "logs"
        py = [sys.executable, "-m", "paas"]
        dns_file = data_dir / "run" / "dns.url"
        dns_file.unlink(missing_ok=True)
        dns_port = args.dns_port

        def dns_argv() -> list[str]:
            return [
                *py,
                "dns",
                "--kubeconfig",
                kubeconfig,
                "--host",
                args.host,
                "--port",
                str(dns_port),
                "--domain",
                args.domain,
                "--router-ip",
                router_ip,
                "--address-file",
                str(dns_file),
                # pods reach it at its own cluster IP, DNATed by the node's proxy (root mode)
                *(
                    ["--service-ip", dns_ip, "--advertise-address", router_ip]
                    if network == "root"
                    else []
                ),
                *(f"--upstream={u}" for u in args.dns_upstream),
            ]

        dns = Component("dns", dns_argv(), logs / "dns.log", ready=dns_file.exists)
        supervisor.add(dns)
        supervisor.start(dns)
        dns_url = dns_file.read_text().strip()
        dns_port = int(dns_url.rsplit(":", 1)[1])
        dns.argv = dns_argv()  # restarts keep the port endpoints.json names
        _write_json(endpoints_path, {"api": url, "dns": dns_url})
        node_flags = (
            ["--count", str(args.nodes)]
            if runtime == "simulated"
            else [
                f"--name={node_names(args.node_name, 1)[0]}",
                "--data-dir",
                str(data_dir / "node"),
                "--cluster-cidr",
                args.cluster_cidr,
                "--network",
                network,
                "--service-cidr",
                service_cidr,
                *(["--cluster-dns", dns_ip] if network == "root" else []),
                "--stop-pods-on-exit",
            ]
        )
        ca = data_dir / "ca.crt"
        stale = {n["metadata"]["name"]: _boot_id(n) for n in _nodes(url, ca, token)}
        for comp in (
            Component(
                "controller-manager",
                [
                    *py,
                    "controller-manager",
                    "--kubeconfig",
                    kubeconfig,
                    "--cluster-cidr",
                    args.cluster_cidr,
                ],
                logs / "controller-manager.log",
            ),
            Component(
                "scheduler", [*py, "scheduler", "--kubeconfig", kubeconfig], logs / "scheduler.log"
            ),
            Component(
                "node",
                [
                    *py,
                    "node",
                    "--join",
                    url,
                    f"--token={ensure_node_token(data_dir)}",
                    "--ca",
                    str(data_dir / "ca.crt"),
                    "--runtime",
                    runtime,
                    *node_flags,
                ],
                logs / "node.log",
                # "up" means a node takes pods: `kubectl get nodes` right after lists it
                ready=lambda: _ready_nodes(url, ca, token, stale) >= args.nodes,
            ),
        ):
            supervisor.add(comp)
            supervisor.start(comp)
        print(f"paas is up in {time.monotonic() - started:.1f}s (data dir {data_dir})")
        print(f"  API:        {url}")
        print(f"  kubeconfig: {data_dir / 'kubeconfig'}")
        print(f"  token:      {data_dir / 'admin.token'}")
        if runtime == "simulated":
            print(f"  nodes:      {args.nodes} x simulated (pods are marked Running; nothing runs)")
        else:
            name = node_names(args.node_name, 1)[0]
            print(f"  node:       {name} ({runtime} runtime, {data_dir / 'node'})")
            where = f"cluster DNS for pods at {dns_ip}" if network == "root" else "no pod DNS"
            print(f"  network:    {network} mode: Service IPs from {service_cidr}, {where}")
            low = lowest_unprivileged_port()
            if network == "loopback" and os.geteuid() != 0 and low > 1:
                print(
                    f"  note:       Service ports below {low} cannot be bound without root; "
                    "to allow them: sudo sysctl -w net.ipv4.ip_unprivileged_port_start=1"
                )
        dns_host, _, _ = dns_url.removeprefix("udp://").rpartition(":")
        dig = f"dig @{dns_host} -p {dns_port} web.default.svc.cluster.local"
        print(f"  DNS:        {dns_url}  ({dig})")
        print(f"  logs:       {logs}")
        print(f"  try:        kubectl --kubeconfig {data_dir / 'kubeconfig'} get nodes")
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            supervisor.tick()
            time.sleep(0.2)
    except RuntimeError as exc:
        print(f"paas up: {exc}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop()
        endpoints_path.unlink(missing_ok=True)
    print("paas stopped.")
    return 0

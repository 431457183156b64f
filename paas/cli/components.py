"""``paas apiserver``: one component, started alone.

Every component can run as its own process; ``paas up`` starts them this
way and restarts any that die. Flags are read here and passed down as
settings; nothing below reads the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
from dataclasses import replace
from pathlib import Path

from orchestrator import pki
from orchestrator.api.timestamps import parse_duration
from orchestrator.apiserver.allocators import AllocatorSettings
from orchestrator.apiserver.encryption.config import EncryptionConfigError, load_config
from orchestrator.apiserver.encryption.reload import ReloadSettings
from orchestrator.apiserver.nodeproxy import NodeProxySettings
from orchestrator.apiserver.podsecurity import PodSecuritySettings
from orchestrator.apiserver.selfservice import kubernetes_names
from orchestrator.apiserver.server import APIServer, APIServerSettings, check_authorization_modes
from paas.cli.logs import setup_logging


def add_apiserver_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("apiserver", help="run the API server alone")
    p.add_argument("--data-dir", type=Path, default=Path.home() / ".paas")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6443, help="0 picks a free port")
    p.add_argument(
        "--store",
        default="sqlite",
        help="sqlite (in the data dir), sqlite://PATH or etcd://HOST:PORT[,...]",
    )
    p.add_argument(
        "--tls-cert", type=Path, help="serving certificate (default: made from the data dir's CA)"
    )
    p.add_argument("--tls-key", type=Path)
    p.add_argument("--tokens-file", type=Path, help="hashed tokens (default DATA_DIR/tokens.json)")
    p.add_argument(
        "--kubelet-client-cert",
        type=Path,
        help="client certificate for node agents' HTTPS (logs); default: made from the "
        "data dir's CA when its key is there",
    )
    p.add_argument("--kubelet-client-key", type=Path)
    p.add_argument("--address-file", type=Path, help="write the bound URL here once serving")
    p.add_argument(
        "--service-cluster-ip-range",
        type=ip_range,
        default=AllocatorSettings.service_cidr,
        help="cluster IPs for Services: a virtual range as root (kernel DNAT), "
        "127.10.0.0/16 in loopback mode (the proxy binds them)",
    )
    p.add_argument(
        "--service-node-port-range",
        type=port_range,
        default=AllocatorSettings.node_port_range,
        help="node ports for NodePort Services, LOW-HIGH",
    )
    p.add_argument(
        "--advertise-address",
        type=ip_address,
        help="publish the Service default/kubernetes (the first IP of the service range, "
        "port 443) with Endpoints naming this address, so pods reach the API",
    )
    p.add_argument(
        "--authorization-mode",
        default="Node,RBAC",
        help="authorizers asked in order after system:masters, comma-separated: Node, RBAC, "
        "AlwaysAllow (default Node,RBAC, as Kubernetes clusters are set up; AlwaysAllow lets "
        "every authenticated caller do anything: for a throwaway cluster only)",
    )
    p.add_argument(
        "--request-timeout",
        type=duration,
        default=APIServerSettings.request_timeout,
        metavar="DURATION",
        help="the most a request that is not a watch, a followed log, exec, attach, "
        "port-forward or proxy may take, then 504 Timeout (Kubernetes' default: 1m; a "
        "request's own ?timeout= may ask for less; e.g. 30s, 2m)",
    )
    p.add_argument(
        "--encryption-provider-config",
        type=Path,
        help="an EncryptionConfiguration file: which resources are encrypted at rest, with "
        "which keys (Kubernetes' format)",
    )
    p.add_argument(
        "--encryption-provider-config-automatic-reload",
        action="store_true",
        help="read the EncryptionConfiguration file again when it changes (checked every "
        f"{ReloadSettings.interval:.0f}s), so keys rotate without a restart; objects written "
        "with an older key are re-sealed after each reload",
    )
    for mode in ("enforce", "audit", "warn"):
        p.add_argument(
            f"--pod-security-{mode}",
            type=pod_security_level,
            metavar="LEVEL[:VERSION]",
            help=f"Pod Security {mode} level of namespaces without the label "
            f"(default {getattr(PodSecuritySettings, mode)}; privileged|baseline|restricted)",
        )
    p.add_argument(
        "--pod-security-exempt-namespaces",
        type=lambda text: tuple(n for n in text.split(",") if n),
        default=PodSecuritySettings.exempt_namespaces,
        metavar="NS,NS",
        help="namespaces Pod Security never checks "
        f"(default: {','.join(PodSecuritySettings.exempt_namespaces)})",
    )
    p.set_defaults(func=run_apiserver)


def pod_security_level(text: str) -> tuple[str, str]:
    """``restricted`` or ``restricted:v1.30``: a level and a version, checked as the plugin will."""
    level, _, version = text.partition(":")
    try:
        replace(
            PodSecuritySettings(), enforce=level, enforce_version=version or "latest"
        ).default_policy()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return level, version or "latest"


def pod_security_settings(args: argparse.Namespace) -> PodSecuritySettings:
    chosen: dict[str, object] = {"exempt_namespaces": args.pod_security_exempt_namespaces}
    for mode in ("enforce", "audit", "warn"):
        given = getattr(args, f"pod_security_{mode}")
        if given is not None:
            chosen[mode], chosen[f"{mode}_version"] = given
    return replace(PodSecuritySettings(), **chosen)  # type: ignore[arg-type]


def duration(text: str) -> float:
    """A flag's Go duration (``60s``, ``1m30s``) in seconds, above zero."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30s or 1m") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above zero")
    return seconds


def ip_address(text: str) -> str:
    """A flag's IP address, or an argparse error saying why."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def ip_range(text: str) -> str:
    """A flag's IPv4 range in canonical form, or an argparse error saying why."""
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a network range: {exc}") from None
    if net.version != 4 or net.num_addresses < 16:
        raise argparse.ArgumentTypeError(f"{text!r} must be an IPv4 range of at least 16 addresses")
    return str(net)


def port_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        result = (int(low), int(high))
    except ValueError:
        result = (0, 0)
    if not sep or not 1 <= result[0] <= result[1] <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port range LOW-HIGH within 1-65535")
    return result


def serving_cert(data_dir: Path, host: str, service_cidr: str = "") -> pki.CertPaths:
    """The API server's certificate; with ``service_cidr``, also for ``default/kubernetes``
    (its cluster IP and ``kubernetes.default.svc[.cluster.local]``), as pods reach it."""
    ca = pki.ensure_ca(data_dir)
    hosts = [host, "127.0.0.1", "localhost", "::1"]
    if host in ("0.0.0.0", "::"):
        hosts.remove(host)
    if service_cidr:
        hosts += kubernetes_names(service_cidr)
    return pki.ensure_serving_cert(data_dir / "tls", ca, "apiserver", hosts)


def kubelet_client_cert(data_dir: Path) -> pki.CertPaths | None:
    """The API server's client certificate for node agents, from the data dir's CA.

    None when the CA's key is not in the data dir (an API server sharing
    etcd on another machine): pass --kubelet-client-cert/--kubelet-client-key.
    """
    ca = pki.CertPaths(data_dir / "ca.crt", data_dir / "ca.key")
    if not (ca.cert.exists() and ca.key.exists()):
        return None
    return pki.ensure_client_cert(data_dir / "tls", ca, "apiserver-kubelet-client")


def run_apiserver(args: argparse.Namespace) -> int:
    setup_logging("apiserver")
    data_dir: Path = pki.ensure_private_dir(args.data_dir.expanduser())  # store, keys, tokens
    cert = args.tls_cert
    key = args.tls_key
    if cert is None:
        published = args.service_cluster_ip_range if args.advertise_address else ""
        paths = serving_cert(data_dir, args.host, published)
        cert, key = paths.cert, paths.key
    if (args.kubelet_client_cert is None) != (args.kubelet_client_key is None):
        raise SystemExit("paas apiserver: give --kubelet-client-cert and --kubelet-client-key")
    kubelet_client = (
        pki.CertPaths(args.kubelet_client_cert, args.kubelet_client_key)
        if args.kubelet_client_cert is not None
        else kubelet_client_cert(data_dir)
    )
    encryption = args.encryption_provider_config
    if encryption is not None:
        try:
            load_config(encryption)  # checked here: a bad file is one line, not a traceback
        except EncryptionConfigError as exc:
            raise SystemExit(f"paas apiserver: {exc}") from None
    modes = tuple(m.strip() for m in args.authorization_mode.split(",") if m.strip())
    try:
        check_authorization_modes(modes)
    except ValueError as exc:
        raise SystemExit(f"paas apiserver: --authorization-mode: {exc}") from None
    settings = APIServerSettings(
        authorization_modes=modes,
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        store=args.store,
        tls_cert=cert,
        tls_key=key,
        tokens_file=args.tokens_file or data_dir / "tokens.json",
        nodes=NodeProxySettings(client_cert=kubelet_client),
        allocators=AllocatorSettings(
            service_cidr=args.service_cluster_ip_range,
            node_port_range=args.service_node_port_range,
        ),
        advertise_address=args.advertise_address or "",
        encryption_config=encryption,
        pod_security=pod_security_settings(args),
        request_timeout=args.request_timeout,
        encryption_reload=ReloadSettings(enabled=args.encryption_provider_config_automatic_reload),
    )
    return asyncio.run(_serve(settings, args.address_file))


async def _serve(settings: APIServerSettings, address_file: Path | None) -> int:
    server = APIServer(settings)
    url = await server.start()
    logging.getLogger("paas").info("API server serving at %s (store: %s)", url, settings.store)
    if address_file is not None:
        address_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = address_file.with_suffix(".tmp")
        tmp.write_text(url)
        tmp.replace(address_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(server.wait())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    await server.stop()
    stopper.cancel()
    if waiter in done:
        with contextlib.suppress(Exception):
            waiter.result()
        return 1
    waiter.cancel()
    return 0

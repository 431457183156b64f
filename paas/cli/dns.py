"""``paas dns``: the cluster DNS as its own process.

It watches Services, Endpoints and Pods through the API and answers
``<svc>.<ns>.svc.cluster.local`` (A, SRV, PTR; headless: the pods), the app
domain wildcard ``*.<domain>`` with the router's address (``--router-ip``),
and forwards other names to ``--upstream`` or refuses them. UDP and TCP on
``--host``/``--port`` (0 picks a free port; ``--address-file`` receives
``udp://h:p`` once serving). ``--service-ip`` also publishes it as
``kube-system/kube-dns`` for pods. SIGTERM/SIGINT stop it (exit 0); losing
an informer for good exits 1 for the supervisor to restart it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
from pathlib import Path

from orchestrator.client.config import ClientConfig, KubeconfigError, load_kubeconfig
from orchestrator.client.rest import APIClient
from orchestrator.metrics.server import MetricsServerSettings
from paas.cli.logs import setup_logging
from paas.cli.metricsflags import add_metrics_flags, metrics_settings, start_metrics
from paas.cli.session import add_kubeconfig_flags, default_kubeconfig
from paas.cli.signals import until_signal
from router.clusterdns import ClusterDNSSettings, run_cluster_dns
from router.dns import DNSServer, DNSSettings
from router.dnsforward import parse_upstream
from router.dnsresolve import ResolverSettings

log = logging.getLogger("paas.dns")


def add_dns_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("dns", help="run the cluster DNS alone")
    configure_parser(p)


def configure_parser(p: argparse.ArgumentParser) -> None:
    resolver = ResolverSettings()
    cluster = ClusterDNSSettings()
    add_kubeconfig_flags(p)
    p.add_argument("--host", default=DNSSettings().host, help="address to listen on")
    p.add_argument(
        "--port", type=int, default=DNSSettings().port, help="UDP and TCP port; 0 picks a free one"
    )
    p.add_argument(
        "--domain",
        default=resolver.app_domain,
        help="app domain: it and every name under it answer with --router-ip",
    )
    p.add_argument(
        "--router-ip",
        action="append",
        default=[],
        metavar="IP",
        help="the router's address for the app domain (repeatable; none: the domain is not served)",
    )
    p.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="resolver for names outside the cluster (repeatable, tried in order; "
        "none: such names are REFUSED)",
    )
    p.add_argument("--cluster-domain", default=cluster.cluster_domain)
    p.add_argument("--ttl", type=int, default=resolver.ttl, help="seconds on every answer")
    p.add_argument(
        "--service-ip",
        default="",
        metavar="IP",
        help="publish kube-system/kube-dns with this cluster IP (port 53) for pods",
    )
    p.add_argument(
        "--advertise-address",
        default="",
        metavar="IP",
        help="the address kube-dns's Endpoints name (default: --host)",
    )
    p.add_argument("--address-file", type=Path, help="write udp://HOST:PORT here once serving")
    add_metrics_flags(p)
    p.set_defaults(func=run_dns)


def settings_from_args(args: argparse.Namespace) -> ClusterDNSSettings:
    """The settings the flags ask for (ValueError naming the flag when one is wrong)."""
    for ip in args.router_ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f"--router-ip {ip!r}: not an IP address") from None
    if not 0 <= args.port < 65536:
        raise ValueError(f"--port {args.port}: must be from 0 to 65535")
    if args.ttl < 0:
        raise ValueError(f"--ttl {args.ttl}: must not be negative")
    if args.service_ip and not args.advertise_address and args.host in ("0.0.0.0", "::"):
        raise ValueError(
            f"--service-ip with --host {args.host} needs --advertise-address: "
            "the address kube-dns's Endpoints give pods to reach this server"
        )
    upstreams = tuple(parse_upstream(u) for u in args.upstream)
    return ClusterDNSSettings(
        dns=DNSSettings(
            host=args.host,
            port=args.port,
            upstreams=upstreams,
            resolver=ResolverSettings(
                ttl=args.ttl, app_domain=args.domain, router_ips=tuple(args.router_ip)
            ),
        ),
        cluster_domain=args.cluster_domain,
        service_ip=args.service_ip,
        advertise_address=args.advertise_address,
    )


def run_dns(args: argparse.Namespace) -> int:
    setup_logging("dns")
    try:
        config = load_kubeconfig(
            (args.kubeconfig or default_kubeconfig()).expanduser(), args.context
        )
        settings = settings_from_args(args)
    except (KubeconfigError, ValueError) as exc:
        print(f"paas dns: {exc}", file=sys.stderr)
        return 2
    metrics = metrics_settings(args, "dns")
    return asyncio.run(_serve(config, settings, args.address_file, metrics))


async def _serve(
    config: ClientConfig,
    settings: ClusterDNSSettings,
    address_file: Path | None,
    metrics: MetricsServerSettings | None = None,
) -> int:
    def serving(server: DNSServer) -> None:
        resolver = server.resolver
        log.info(
            "serving %s at %s; *.%s -> %s; other names: %s",
            settings.cluster_domain,
            server.url,
            resolver.app_domain,
            ", ".join(resolver.router_ips) or "(not served)",
            ", ".join(map(str, settings.dns.upstreams)) or "REFUSED",
        )
        if address_file is not None:
            address_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = address_file.with_suffix(".tmp")
            tmp.write_text(server.url)
            tmp.replace(address_file)

    async with APIClient(config) as client:
        metrics_server = await start_metrics(client, metrics)
        try:
            if await until_signal(run_cluster_dns(client, settings, serving)):
                return 1
        finally:
            if metrics_server is not None:
                await metrics_server.close()
        log.info("stopped")
        return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m paas.cli.dns``: the same command without the ``paas`` front."""
    parser = argparse.ArgumentParser(prog="paas dns")
    configure_parser(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

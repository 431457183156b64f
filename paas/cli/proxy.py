"""``paas proxy``: the node's service proxy as its own process (root mode, iptables).

It watches Services and Endpoints through the API and programs the kernel
so that clusterIP:port and every NodePort reach the ready endpoints; bytes
never pass through Python. ``--bridge`` names the node bridge the service
range is routed to. SIGTERM/SIGINT stop it and leave the rules in place, so
services keep working while it restarts (the next run replaces them);
``--cleanup`` removes every rule of ours and exits. Losing an informer for
good exits 1 for the supervisor to restart it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys

from orchestrator.client.config import ClientConfig, ConfigError, load_kubeconfig
from orchestrator.client.rest import APIClient
from orchestrator.proxy.kernel import KernelError
from orchestrator.proxy.proxier import IptablesProxier, ProxySettings
from paas.cli.logs import setup_logging
from paas.cli.session import add_kubeconfig_flags, default_kubeconfig

log = logging.getLogger("paas.proxy")


def add_proxy_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("proxy", help="run the node's service proxy alone (root, iptables)")
    configure_parser(p)


def configure_parser(p: argparse.ArgumentParser) -> None:
    defaults = ProxySettings()
    add_kubeconfig_flags(p)
    p.add_argument(
        "--service-cidr", default=defaults.service_cidr, help="the cluster IP range to route"
    )
    p.add_argument(
        "--cluster-cidr",
        default="",
        help="the pod range: clients outside it reaching a cluster IP are masqueraded",
    )
    p.add_argument("--bridge", default="", help="the node bridge the service range is routed to")
    p.add_argument(
        "--cleanup", action="store_true", help="remove every rule of ours (and the route), exit"
    )
    p.set_defaults(func=run_proxy)


def settings_from_args(args: argparse.Namespace) -> ProxySettings:
    """The settings the flags ask for (ValueError naming the flag when one is wrong)."""
    for flag, value in (
        ("--service-cidr", args.service_cidr),
        ("--cluster-cidr", args.cluster_cidr),
    ):
        if value:
            try:
                ipaddress.IPv4Network(value)
            except ValueError as exc:
                raise ValueError(f"{flag} {value!r}: {exc}") from None
    return ProxySettings(
        service_cidr=args.service_cidr, cluster_cidr=args.cluster_cidr, bridge=args.bridge
    )


def run_proxy(args: argparse.Namespace) -> int:
    setup_logging("proxy")
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"paas proxy: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("paas proxy: programming iptables needs root", file=sys.stderr)
        return 2
    if args.cleanup:
        try:
            IptablesProxier.cleanup_kernel(settings)
        except KernelError as exc:
            print(f"paas proxy: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        config = load_kubeconfig(
            (args.kubeconfig or default_kubeconfig()).expanduser(), args.context
        )
    except ConfigError as exc:
        print(f"paas proxy: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(config, settings))


async def _serve(config: ClientConfig, settings: ProxySettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with APIClient(config) as client:
        work = asyncio.create_task(IptablesProxier(client, settings).run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            stopping.cancel()
            log.error("stopped: %r", work.exception())
            return 1
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        log.info("stopped; the rules stay until the next run replaces them")
        return 0

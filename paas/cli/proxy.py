"""``paas proxy``: the node's service proxy as its own process.

It watches Services and Endpoints through the API so that clusterIP:port
and every NodePort reach the ready endpoints. ``--mode``:

- ``iptables`` (root mode): it programs the kernel, bytes never pass
  through Python. ``--bridge`` names the node bridge the service range is
  routed to. SIGTERM/SIGINT stop it and leave the rules in place, so
  services keep working while it restarts (the next run replaces them);
  ``--cleanup`` removes every rule of ours and exits.
- ``userspace`` (loopback mode): it listens on the cluster IPs (127.10/16)
  and on ``--nodeport-addresses`` at each node port, and relays the bytes.
- ``auto``: iptables as root, userspace otherwise.

Losing an informer for good exits 1 for the supervisor to restart it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from orchestrator.client.config import ClientConfig, KubeconfigError, load_kubeconfig
from orchestrator.client.rest import APIClient
from orchestrator.netfilter.iptables import KernelError
from orchestrator.proxy.proxier import IptablesProxier, ProxySettings
from orchestrator.proxy.userspace import UserspaceProxier, UserspaceSettings
from paas.cli.logs import setup_logging
from paas.cli.session import add_kubeconfig_flags, default_kubeconfig
from paas.cli.signals import until_signal

log = logging.getLogger("paas.proxy")


def add_proxy_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("proxy", help="run the node's service proxy alone")
    configure_parser(p)


def configure_parser(p: argparse.ArgumentParser) -> None:
    defaults = ProxySettings()
    add_kubeconfig_flags(p)
    p.add_argument(
        "--mode",
        choices=("auto", "iptables", "userspace"),
        default="auto",
        help="iptables: kernel DNAT (root); userspace: listen on the cluster IPs and relay; "
        "auto: iptables as root",
    )
    p.add_argument(
        "--service-cidr", default=defaults.service_cidr, help="the cluster IP range to route"
    )
    p.add_argument(
        "--nodeport-addresses",
        "--nodeport-address",
        dest="nodeport_addresses",
        action="append",
        default=[],
        metavar="IP[,IP...]",
        help="userspace: where node ports listen (comma-separated or repeated; default 127.0.0.1)",
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


def userspace_settings(args: argparse.Namespace) -> UserspaceSettings:
    addresses = [a.strip() for value in args.nodeport_addresses for a in value.split(",")]
    for value in addresses:
        try:
            ipaddress.IPv4Address(value)
        except ValueError as exc:
            raise ValueError(f"--nodeport-addresses {value!r}: {exc}") from None
    return UserspaceSettings(nodeport_addresses=tuple(dict.fromkeys(addresses)) or ("127.0.0.1",))


def run_proxy(args: argparse.Namespace) -> int:
    setup_logging("proxy")
    mode = args.mode if args.mode != "auto" else ("iptables" if os.geteuid() == 0 else "userspace")
    try:
        settings = settings_from_args(args)
        userspace = userspace_settings(args)
    except ValueError as exc:
        print(f"paas proxy: {exc}", file=sys.stderr)
        return 2
    if mode == "iptables" and os.geteuid() != 0:
        print("paas proxy: programming iptables needs root (or --mode userspace)", file=sys.stderr)
        return 2
    if args.cleanup:  # nothing outlives a userspace proxy: only kernel rules need removing
        if mode == "iptables":
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
    except KubeconfigError as exc:
        print(f"paas proxy: {exc}", file=sys.stderr)
        return 2
    if mode == "userspace":
        return asyncio.run(_serve(config, lambda c: UserspaceProxier(c, userspace), ""))
    rules_stay = "; the rules stay until the next run replaces them"
    return asyncio.run(_serve(config, lambda c: IptablesProxier(c, settings), rules_stay))


async def _serve(config: ClientConfig, make: Callable[[APIClient], Any], stopped: str) -> int:
    async with APIClient(config) as client:
        if await until_signal(make(client).run()):
            return 1
    log.info("stopped%s", stopped)
    return 0

"""``paas router``: the HTTP entry point (Ingress and Gateway API) as its own process.

It serves every ``networking.k8s.io/v1`` Ingress of class ``paas`` (created
at start as the default class, so class-less Ingresses are served too) and
every HTTPRoute attached to Gateway ``paas-system/paas`` (class ``paas``,
both created at start) on ``--host``/``--http-port``, proxying to the ready
pods of the backend Services and holding requests for backends with none
ready yet (the activator); ``/metrics`` and ``/signals`` on
``--metrics-port``; ``--address-file`` receives ``http://h:p`` once serving (port 0
picks a free one). One access-log line per request on stderr, written in
batches once a second (``router.accesslog``).
SIGTERM/SIGINT stop it (exit 0); losing an informer for good exits 1 for the
supervisor to restart it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from orchestrator.client.config import ClientConfig, KubeconfigError, load_kubeconfig
from orchestrator.client.rest import APIClient
from paas.cli.logs import setup_logging
from paas.cli.session import add_kubeconfig_flags, default_kubeconfig
from paas.cli.signals import until_signal
from router.accesslog import BufferedLines, access_log
from router.activator import ActivatorSettings
from router.ingresscontroller import IngressController, RouterSettings, run_router
from router.proxy import ProxySettings
from router.upstream import PoolSettings

log = logging.getLogger("paas.router")


def add_router_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("router", help="run the HTTP router (ingress controller) alone")
    configure_parser(p)


def configure_parser(p: argparse.ArgumentParser) -> None:
    d, proxy, pool, act = RouterSettings(), ProxySettings(), PoolSettings(), ActivatorSettings()
    add_kubeconfig_flags(p)
    p.add_argument("--host", default=d.host, help="address to listen on")
    p.add_argument("--http-port", type=int, default=d.port, help="0 picks a free one")
    p.add_argument(
        "--advertise-address",
        default="",
        help="what Ingress status shows as the router's address (default: --host)",
    )
    p.add_argument(
        "--ingress-class",
        default=d.ingress_class,
        help="IngressClass created at start as the default class ('' creates none)",
    )
    p.add_argument("--controller", default=d.controller, help="the IngressClass controller name")
    p.add_argument(
        "--header-timeout",
        type=float,
        default=proxy.header_timeout,
        help="seconds for a pod's response headers before 504",
    )
    p.add_argument(
        "--body-idle-timeout",
        type=float,
        default=proxy.body_idle_timeout,
        help="seconds of silence within a streamed body before it is cut",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=pool.connect_timeout,
        help="seconds to connect to a pod before 504",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=d.metrics_port,
        help="/metrics and /signals for the autoscaler (0 picks a free one, -1 serves none)",
    )
    p.add_argument(
        "--metrics-auth",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="/metrics and /signals need a token allowed to get them (checked with the API)",
    )
    p.add_argument(
        "--gateway-class",
        default=d.gateway_class,
        help="GatewayClass created at start, and Gateway paas-system/<it> ('' creates none)",
    )
    p.add_argument(
        "--queue-limit",
        type=int,
        default=act.queue_limit,
        help="requests held per backend with no ready pod before 503",
    )
    p.add_argument(
        "--hold-timeout",
        type=float,
        default=act.hold_timeout,
        help="seconds a request is held when its route sets no timeout, then 504",
    )
    p.add_argument("--address-file", type=Path, help="write http://HOST:PORT here once serving")
    p.set_defaults(func=run_router_command)


def settings_from_args(args: argparse.Namespace) -> RouterSettings:
    if not 0 <= args.http_port < 65536:
        raise ValueError(f"--http-port {args.http_port}: must be from 0 to 65535")
    if not -1 <= args.metrics_port < 65536:
        raise ValueError(f"--metrics-port {args.metrics_port}: must be from -1 to 65535")
    if args.queue_limit < 0 or args.hold_timeout <= 0:
        raise ValueError("--queue-limit must be 0 or more and --hold-timeout more than 0")
    for flag in ("header_timeout", "body_idle_timeout", "connect_timeout"):
        if getattr(args, flag) <= 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be more than 0 seconds")
    return RouterSettings(
        host=args.host,
        port=args.http_port,
        advertise_address=args.advertise_address,
        controller=args.controller,
        ingress_class=args.ingress_class,
        proxy=ProxySettings(
            header_timeout=args.header_timeout, body_idle_timeout=args.body_idle_timeout
        ),
        pool=PoolSettings(connect_timeout=args.connect_timeout),
        metrics_port=args.metrics_port,
        metrics_auth=args.metrics_auth,
        gateway_class=args.gateway_class,
        gateway_name=args.gateway_class,
        activator=ActivatorSettings(queue_limit=args.queue_limit, hold_timeout=args.hold_timeout),
    )


def run_router_command(args: argparse.Namespace) -> int:
    setup_logging("router")
    lines = BufferedLines(sys.stderr, "router")
    access_log.addHandler(lines)
    access_log.propagate = False
    # The logging HOWTO's "Optimization" settings: no thread, process or caller lookups.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    try:
        config = load_kubeconfig(
            (args.kubeconfig or default_kubeconfig()).expanduser(), args.context
        )
        settings = settings_from_args(args)
    except (KubeconfigError, ValueError) as exc:
        print(f"paas router: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(config, settings, args.address_file, lines))


async def _serve(
    config: ClientConfig, settings: RouterSettings, address_file: Path | None, lines: BufferedLines
) -> int:
    def serving(controller: IngressController) -> None:
        log.info(
            "serving Ingresses and HTTPRoutes of controller %s at %s (metrics port %d)",
            settings.controller,
            controller.url,
            controller.metrics_port,
        )
        if address_file is not None:
            address_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = address_file.with_suffix(".tmp")
            tmp.write_text(controller.url)
            tmp.replace(address_file)

    flushing = asyncio.create_task(lines.flush_every(1.0))
    try:
        async with APIClient(config) as client:
            if await until_signal(run_router(client, settings, serving)):
                return 1
            log.info("stopped")
            return 0
    finally:
        flushing.cancel()
        lines.flush()

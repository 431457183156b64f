"""``paas builder``: the git server (smart HTTP), build logs, as its own process.

It serves ``<url>/<app>.git`` and ``<url>/<namespace>/<app>.git`` to git,
with any user name and an API token as the password (checked by the API
server's TokenReview through this process's own kubeconfig), and runs a
build per pushed branch (``builder/``). ``--port 0`` picks a free port;
``--address-file`` receives ``http://HOST:PORT`` once it serves. SIGTERM or
SIGINT stop it (exit 0); a crash exits 1 for the supervisor to restart it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from builder.server import BuilderServer
from builder.settings import BuilderSettings
from orchestrator import pki
from orchestrator.client.config import ClientConfig, KubeconfigError, load_kubeconfig
from orchestrator.client.rest import APIClient
from orchestrator.metrics.server import MetricsServerSettings
from paas.cli.logs import setup_logging
from paas.cli.metricsflags import add_metrics_flags, metrics_settings, start_metrics
from paas.cli.session import add_kubeconfig_flags, default_kubeconfig
from paas.cli.signals import until_signal

log = logging.getLogger("paas.builder")


def add_builder_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("builder", help="run the git server and builder alone")
    configure_parser(p)


def configure_parser(p: argparse.ArgumentParser) -> None:
    d = BuilderSettings(data_dir=Path())
    add_kubeconfig_flags(p)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path.home() / ".paas" / "builder",
        help="repositories, build logs and slugs",
    )
    p.add_argument("--host", default=d.host, help="address to listen on")
    p.add_argument("--port", type=int, default=d.port, help="0 picks a free one")
    p.add_argument("--public-url", default="", help="how pushers and nodes reach this server")
    p.add_argument("--domain", default=d.domain, help="apps are served at <app>.<domain>")
    p.add_argument("--http-port", type=int, default=d.http_port, help="the router's port")
    p.add_argument(
        "--build-function",
        default=d.build_function,
        help="what builds a tree: module:function or file.py:function",
    )
    p.add_argument("--build-timeout", type=float, default=d.build_timeout, help="seconds")
    p.add_argument(
        "--build-memory",
        type=int,
        default=d.build_memory >> 20,
        help="MiB a build's process tree may use",
    )
    p.add_argument(
        "--no-dockerfile-builds",
        dest="dockerfile_builds",
        action="store_false",
        help="the nodes run slugs only (process runtime): refuse repositories with a Dockerfile",
    )
    p.add_argument(
        "--registry",
        default=d.registry,
        metavar="HOST:PORT",
        help="push Dockerfile images to this registry (paas up runs one on Docker); "
        "none: an image stays on the engine that built it",
    )
    p.add_argument("--address-file", type=Path, help="write http://HOST:PORT here once serving")
    add_metrics_flags(p)
    p.set_defaults(func=run_builder)


def settings_from_args(args: argparse.Namespace) -> BuilderSettings:
    if not 0 <= args.port < 65536:
        raise ValueError(f"--port {args.port}: must be from 0 to 65535")
    if args.build_memory < 64:
        raise ValueError(f"--build-memory {args.build_memory}: at least 64 (MiB)")
    function = args.build_function
    where, _, name = function.rpartition(":")
    if where.endswith(".py"):  # the build runs in another directory
        function = f"{Path(where).resolve()}:{name}"
    return BuilderSettings(
        data_dir=args.data_dir.expanduser().resolve(),
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        domain=args.domain,
        http_port=args.http_port,
        build_function=function,
        build_timeout=args.build_timeout,
        build_memory=args.build_memory << 20,
        dockerfile_builds=args.dockerfile_builds,
        registry=registry_flag(args.registry),
    )


def registry_flag(text: str) -> str:
    """``HOST:PORT`` as image references name a registry (a scheme or path is refused)."""
    host, _, port = text.rpartition(":")
    if text and (not host or not port.isdigit() or "/" in text):
        raise ValueError(f"--registry {text}: give HOST:PORT, as in 127.0.0.1:5000")
    return text


def run_builder(args: argparse.Namespace) -> int:
    import asyncio

    setup_logging("builder")
    try:
        config = load_kubeconfig(
            (args.kubeconfig or default_kubeconfig()).expanduser(), args.context
        )
        settings = settings_from_args(args)
    except (KubeconfigError, ValueError) as exc:
        print(f"paas builder: {exc}", file=sys.stderr)
        return 2
    pki.ensure_private_dir(settings.data_dir)  # repositories, slugs and build logs: its own
    metrics = metrics_settings(args, "builder")
    return asyncio.run(_serve(config, settings, args.address_file, metrics))


async def _serve(
    config: ClientConfig,
    settings: BuilderSettings,
    address_file: Path | None,
    metrics: MetricsServerSettings | None = None,
) -> int:
    async with APIClient(config) as client:
        metrics_server = await start_metrics(client, metrics)
        try:
            return await _serve_git(client, settings, address_file)
        finally:
            if metrics_server is not None:
                await metrics_server.close()


async def _serve_git(
    client: APIClient, settings: BuilderSettings, address_file: Path | None
) -> int:
    server = BuilderServer(settings, client)

    async def serve() -> None:
        try:
            url = await server.start()
            log.info("serving git at %s (repositories in %s)", url, settings.repos)
            if address_file is not None:
                address_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = address_file.with_suffix(".tmp")
                tmp.write_text(url)
                tmp.replace(address_file)
            await server.wait()
        finally:
            await server.stop()

    if await until_signal(serve()):
        return 1
    log.info("stopped")
    return 0

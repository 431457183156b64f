"""``--metrics-port`` and friends: a component's HTTPS ``/metrics`` (orchestrator.metrics).

Every component without an API of its own takes the same flags; without
``--metrics-port`` it serves no metrics. The port is guarded by the API
server (TokenReview and SubjectAccessReview through the component's own
client), so the component's identity needs ``system:auth-delegator``'s
rights (``paas/up/roles.py`` binds them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator import pki
from orchestrator.client.rest import APIClient
from orchestrator.metrics.delegated import DelegatedAuth
from orchestrator.metrics.server import MetricsServer, MetricsServerSettings


def add_metrics_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics over HTTPS on this port (0 picks one; default: none)",
    )
    p.add_argument("--metrics-host", default="127.0.0.1", help="address /metrics listens on")
    p.add_argument(
        "--metrics-cert",
        type=Path,
        help="serving certificate for /metrics (default: a self-signed one)",
    )
    p.add_argument("--metrics-key", type=Path)
    p.add_argument("--metrics-address-file", type=Path, help="write the /metrics URL here")


def metrics_settings(args: argparse.Namespace, name: str) -> MetricsServerSettings | None:
    """What the flags ask for; None when no metrics port was asked for."""
    if getattr(args, "metrics_port", None) is None:
        return None
    cert = None
    if args.metrics_cert is not None:
        cert = pki.CertPaths(args.metrics_cert, args.metrics_key or args.metrics_cert)
    return MetricsServerSettings(
        host=args.metrics_host,
        port=args.metrics_port,
        cert=cert,
        name=name,
        address_file=args.metrics_address_file,
    )


async def start_metrics(
    client: APIClient, settings: MetricsServerSettings | None
) -> MetricsServer | None:
    """Serve /metrics as ``settings`` say (None: nothing); the caller closes it."""
    if settings is None:
        return None
    server = MetricsServer(DelegatedAuth(client), settings)
    await server.start()
    return server

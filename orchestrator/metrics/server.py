"""A component's HTTPS ``/metrics`` port (``--metrics-port``), guarded by the API server.

``GET /metrics`` answers the process's ``prometheus_client`` default
registry, in Prometheus' text format or OpenMetrics as the scraper's
``Accept`` asks, to a bearer token the API server authenticates whose user
may ``get`` the non-resource path ``/metrics`` (``delegated.DelegatedAuth``;
the ``system:monitoring`` group may). ``GET /healthz`` answers ``ok`` to
anyone, as Kubernetes' components do.

TLS always: with ``cert`` (a serving certificate ``paas up`` issues from
the cluster CA, so a scraper verifies with ``DATA_DIR/ca.crt``) or, run
alone, a self-signed one made and kept in ``cert_dir``. Port 0 picks a
free port; ``start`` returns the URL bound, and writes it to
``address_file`` when one is given (how ``paas up`` learns it).
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from orchestrator import pki
from orchestrator.metrics.delegated import DelegatedAuth, Question

METRICS = Question("get", path="/metrics")


@dataclass(frozen=True)
class MetricsServerSettings:
    host: str = "127.0.0.1"  # the component's host: metrics are not for the world
    port: int = 0  # 0 picks a free port
    cert: pki.CertPaths | None = None  # a CA-signed serving certificate; None: self-signed
    cert_dir: Path | None = None  # where a self-signed one is kept (None: a temporary one)
    name: str = "metrics"  # the self-signed certificate's file names and common name
    address_file: Path | None = None  # written with the URL once bound


def exposition(accept: str) -> tuple[bytes, str]:
    """The default registry's text, as ``accept`` prefers (body, content type)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(REGISTRY), content_type


class MetricsServer:
    """``start()`` binds and serves; ``close()`` stops."""

    def __init__(self, auth: DelegatedAuth, settings: MetricsServerSettings) -> None:
        self.auth = auth
        self.settings = settings
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        s = self.settings
        cert = s.cert
        if cert is None:
            directory = s.cert_dir or Path(pki.ensure_private_dir(_temporary_dir()))
            host = s.host if s.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
            cert = pki.ensure_self_signed_cert(directory, s.name, [host, "localhost"])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert.cert), str(cert.key))
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", _healthz)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.host, s.port, ssl_context=context)
        await site.start()
        port = int(self._runner.addresses[0][1])
        shown = f"[{s.host}]" if ":" in s.host else s.host
        self.url = f"https://{shown}:{port}"
        if s.address_file is not None:
            s.address_file.parent.mkdir(parents=True, exist_ok=True)
            s.address_file.write_text(self.url + "\n")
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        refusal = await self.auth.check(request.headers.get("Authorization"), METRICS)
        if refusal is not None:
            return web.Response(status=refusal.status, text=refusal.message)
        body, content_type = exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _temporary_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="paas-metrics-"))

"""Where Prometheus finds every component ``paas up`` runs: ``DATA_DIR/metrics-targets.json``.

Prometheus' ``file_sd`` format: a list of ``{"targets": ["host:port"],
"labels": {"job": <component>, "__scheme__": "https", "__metrics_path__":
"/metrics"}}``. Prometheus re-reads the file when it changes, so
``refresh()`` rewrites it (atomically, only when its content changes)
whenever a component comes up or restarts on another port.

- The API server: its own URL (``/metrics`` on the API port).
- The components without a server of their own (``SERVED``): each gets
  ``--metrics-port 0`` and a serving certificate signed by the cluster CA
  (``DATA_DIR/tls/metrics/<component>.crt``), so one ``ca_file``
  (``DATA_DIR/ca.crt``) verifies them all, and writes its URL to
  ``run/metrics/<component>.url``.
- The router: its metrics port (plain HTTP, the autoscaler's contract),
  from the ``paas-system/paas-router`` Endpoints it publishes.
- The node agents (job ``node``): the address and port each Node reports,
  on their own self-signed certificates; those certificates (each Node's
  annotation) are gathered into ``DATA_DIR/metrics/nodes-ca.crt``, the
  ``ca_file`` of a scrape config that keeps ``job="node"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator import pki
from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient
from paas.up.settings import UpSettings

# Components started with --metrics-port (orchestrator.metrics.server), in paas up's names.
SERVED = (
    "dns",
    "controller-manager",
    "scheduler",
    "app-controller",
    "serving-controller",
    "autoscaler",
    "builder",
)
NODE_JOB = "node"
NODES = BUILTIN_TYPES.require("", "Node")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")


def address_file(settings: UpSettings, component: str) -> Path:
    return settings.run_dir / "metrics" / f"{component}.url"


def metrics_flags(settings: UpSettings, component: str) -> list[str]:
    """The flags that make ``component`` serve /metrics with a CA-signed certificate."""
    ca = pki.CertPaths(settings.data_dir / "ca.crt", settings.data_dir / "ca.key")
    host = settings.reachable_ip
    signed: list[str] = []
    if ca.key.exists():  # paas up made the CA; without its key the component self-signs
        cert = pki.ensure_serving_cert(
            settings.data_dir / "tls" / "metrics", ca, component, [host, "127.0.0.1", "localhost"]
        )
        signed = ["--metrics-cert", str(cert.cert), "--metrics-key", str(cert.key)]
    return [
        "--metrics-port",
        "0",
        "--metrics-host",
        host,
        *signed,
        "--metrics-address-file",
        str(address_file(settings, component)),
    ]


def _target(url: str, job: str, scheme: str = "https") -> dict[str, Any]:
    hostport = url.split("://", 1)[-1].rstrip("/")
    return {
        "targets": [hostport],
        "labels": {"job": job, "__scheme__": scheme, "__metrics_path__": "/metrics"},
    }


class MetricsTargets:
    """Keeps ``DATA_DIR/metrics-targets.json`` (and the nodes' CA bundle) current."""

    def __init__(self, settings: UpSettings) -> None:
        self.settings = settings
        self.path = settings.data_dir / "metrics-targets.json"
        self.nodes_ca = settings.data_dir / "metrics" / "nodes-ca.crt"
        self._written = ""

    def clear(self) -> None:
        for component in SERVED:
            address_file(self.settings, component).unlink(missing_ok=True)

    async def refresh(self, api: str, client: APIClient | None) -> None:
        groups: list[dict[str, Any]] = []
        if api:
            groups.append(_target(api, "apiserver"))
        for component in SERVED:
            try:
                url = address_file(self.settings, component).read_text().strip()
            except FileNotFoundError:
                continue
            if url:
                groups.append(_target(url, component))
        if client is not None:
            groups += await self._routers(client)
            groups += await self._nodes(client)
        text = json.dumps(groups, indent=2) + "\n"
        if text != self._written:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(self.path)
            self._written = text

    async def _routers(self, client: APIClient) -> list[dict[str, Any]]:
        try:
            endpoints = await client.get(ENDPOINTS, "paas-router", "paas-system")
        except errors.APIError:
            return []
        out = []
        for subset in endpoints.get("subsets") or []:
            port = next(
                (p["port"] for p in subset.get("ports") or [] if p.get("name") == "metrics"), None
            )
            if port is None:
                continue
            for address in subset.get("addresses") or []:
                out.append(_target(f"http://{address['ip']}:{port}", "router", "http"))
        return out

    async def _nodes(self, client: APIClient) -> list[dict[str, Any]]:
        try:
            nodes = (await client.list(NODES)).get("items") or []
        except errors.APIError:
            return []
        out, certs = [], []
        for node in nodes:
            status = node.get("status") or {}
            port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
            address = next(
                (
                    a["address"]
                    for a in status.get("addresses") or []
                    if a.get("type") == "InternalIP"
                ),
                "",
            )
            cert = (node["metadata"].get("annotations") or {}).get(
                pki.KUBELET_SERVING_CERT_ANNOTATION, ""
            )
            if port and address and cert:
                out.append(_target(f"https://{address}:{port}", NODE_JOB))
                certs.append(cert.strip() + "\n")
        bundle = "".join(certs)
        self.nodes_ca.parent.mkdir(parents=True, exist_ok=True)
        if not self.nodes_ca.exists() or self.nodes_ca.read_text() != bundle:
            tmp = self.nodes_ca.with_suffix(".tmp")
            tmp.write_text(bundle)
            tmp.replace(self.nodes_ca)
        return out

"""The serving controller's own admission webhook: served, certified and registered at start.

At start (once leading) it:

1. makes a CA and a serving certificate for
   ``paas-serving-webhook.paas-system.svc`` (and its own address) in a
   private temporary directory: nothing persists, a restart makes new ones;
2. serves ``webhook.create_app`` over HTTPS on ``host:port`` (port 0 picks
   one);
3. publishes itself: namespace ``paas-system``, a Service
   ``paas-serving-webhook`` without a selector (port 443, name ``https``)
   and its Endpoints (the advertised address and the real port), so the
   API server finds it the way Kubernetes does with aggregator routing;
4. applies the MutatingWebhookConfiguration ``webhook.serving.knative.dev``
   and ValidatingWebhookConfiguration
   ``validation.webhook.serving.knative.dev`` (Knative's names and paths),
   naming that Service, with the new CA as ``caBundle`` and
   ``failurePolicy: Fail``, for CREATE and UPDATE of the four kinds.

Every write is a server-side apply under one field manager, so a restart
(or a new leader) takes the objects over and nothing is left half written.
While no webhook answers, writes of the serving kinds are refused (500,
"failed calling webhook"): as in Knative, nothing is stored unchecked. The
configurations stay when the controller stops, for the same reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from orchestrator import pki
from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.context import ControllerContext
from paas.serving.kinds import GATEWAY_NAMESPACE, GROUP
from paas.serving.webhook import DEFAULTING_PATH, VALIDATION_PATH, create_app

log = logging.getLogger(__name__)
FIELD_MANAGER = "paas-serving-controller"
MUTATING_NAME = "webhook.serving.knative.dev"
VALIDATING_NAME = "validation.webhook.serving.knative.dev"
_rt = BUILTIN_TYPES.require
NAMESPACES = _rt("", "Namespace")
SERVICES = _rt("", "Service")
ENDPOINTS = _rt("", "Endpoints")
MUTATING = _rt("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
VALIDATING = _rt("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")
RESOURCES = ["services", "configurations", "revisions", "routes"]


@dataclass(frozen=True)
class WebhookSettings:
    host: str = "127.0.0.1"  # where the webhook listens; the API server must reach it
    port: int = 0  # 0 = any free port (published in the Endpoints)
    advertise_address: str = ""  # the IP the API server dials; "" = host
    namespace: str = GATEWAY_NAMESPACE  # the platform's own namespace
    service: str = "paas-serving-webhook"
    timeout_seconds: int = 10  # per call (Knative's and Kubernetes' default)


def configuration(
    kind: str, name: str, path: str, settings: WebhookSettings, ca: str
) -> dict[str, Any]:
    """A webhook configuration calling ``path`` of the webhook Service for the serving kinds."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "serving-webhook"}},
        "webhooks": [
            {
                "name": name,
                "admissionReviewVersions": ["v1"],
                "clientConfig": {
                    "service": {
                        "namespace": settings.namespace,
                        "name": settings.service,
                        "path": path,
                        "port": 443,
                    },
                    "caBundle": ca,
                },
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "timeoutSeconds": settings.timeout_seconds,
                "rules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": RESOURCES,
                        "scope": "*",
                    }
                ],
            }
        ],
    }


def published(
    settings: WebhookSettings, address: str, port: int
) -> list[tuple[Any, dict[str, Any]]]:
    """The Service and Endpoints that point the API server at this webhook."""
    meta = {"name": settings.service, "namespace": settings.namespace}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port, "protocol": "TCP"}]},
    }
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta,
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }
    return [(SERVICES, service), (ENDPOINTS, endpoints)]


class ServingWebhook:
    """Serves the webhook and keeps its registration current; a controller in shape."""

    name = "serving-webhook"

    def __init__(self, ctx: ControllerContext, settings: WebhookSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.port = 0  # once serving
        self.ready = asyncio.Event()  # set once registered

    async def run(self) -> None:
        s = self.settings
        address = s.advertise_address or s.host
        with tempfile.TemporaryDirectory(prefix="paas-serving-webhook-") as tmp:
            directory = Path(tmp)
            ca = pki.ensure_ca(directory, "paas-serving-webhook-ca")
            dns = f"{s.service}.{s.namespace}.svc"
            cert = pki.ensure_serving_cert(directory, ca, "webhook", [dns, address, s.host])
            sock = socket.socket(socket.AF_INET6 if ":" in s.host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((s.host, s.port))
            sock.listen(128)
            sock.setblocking(False)
            self.port = sock.getsockname()[1]
            config = uvicorn.Config(
                create_app(),
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
                ssl_certfile=str(cert.cert),
                ssl_keyfile=str(cert.key),
            )
            server = uvicorn.Server(config)
            # The process's own handlers stop it (paas.cli.control): uvicorn must not take them.
            server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                while not server.started:
                    if serving.done():
                        serving.result()
                        raise RuntimeError("the serving webhook stopped before it started")
                    await asyncio.sleep(0.01)
                log.info("serving webhook listening on https://%s:%d", s.host, self.port)
                await self.register(address, base64.b64encode(ca.cert.read_bytes()).decode())
                self.ready.set()
                await serving
                raise RuntimeError("the serving webhook stopped")
            finally:
                server.should_exit = True
                for conn in list(server.server_state.connections):  # the API server keeps them
                    transport = getattr(conn, "transport", None)
                    if transport is not None:
                        transport.abort()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(serving, 5)
                sock.close()

    async def register(self, address: str, ca_bundle: str) -> None:
        s = self.settings
        client = self.ctx.client
        try:
            await client.create(
                NAMESPACES,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}},
            )
        except errors.AlreadyExists:
            pass
        for rt, obj in published(s, address, self.port):
            await self._apply(rt, obj, s.namespace)
        await self._apply(
            MUTATING,
            configuration(
                "MutatingWebhookConfiguration", MUTATING_NAME, DEFAULTING_PATH, s, ca_bundle
            ),
        )
        await self._apply(
            VALIDATING,
            configuration(
                "ValidatingWebhookConfiguration", VALIDATING_NAME, VALIDATION_PATH, s, ca_bundle
            ),
        )
        log.info("serving webhook registered at %s:%d", address, self.port)

    async def _apply(self, rt: Any, obj: dict[str, Any], namespace: str = "") -> None:
        await self.ctx.client.patch(
            rt,
            obj["metadata"]["name"],
            obj,
            namespace,
            patch_type="application/apply-patch+yaml",
            fieldManager=FIELD_MANAGER,
            force="true",
        )

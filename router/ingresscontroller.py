"""The HTTP router as one component: watches, the route table, the server, statuses.

``run_router(client, settings)``:

1. creates our IngressClass (``paas``, controller ``paas.dev/router``, the
   default class) unless it exists (a class someone edited is left alone);
2. starts informers on Ingress, IngressClass, Service and Endpoints
   (``orchestrator.client.informer``). Every Ingress or IngressClass event
   rebuilds the route table (pure, ``build_routes``) and swaps it into the
   proxy; Service and Endpoints are read from the caches per request, so a
   pod that turns ready is routable as soon as its Endpoints event arrives
   (one watch hop after the endpoints controller writes it);
3. waits for the first lists (up to ``sync_timeout``) so that it never
   answers 404 for an Ingress that exists, then binds the HTTP port;
4. keeps ``status.loadBalancer.ingress`` of every Ingress it serves at its
   own address (``advertise_address`` as ``ip``, or ``hostname`` when it is
   a name), with the port, in a loop woken by the table rebuilds; an
   Ingress that stops being ours keeps what it had (another controller owns
   it now and writes its own).

5. implements Gateway API beside Ingress (``router.gatewaycontroller``):
   creates GatewayClass ``paas`` and Gateway ``paas-system/paas`` (HTTP on
   its port), merges the attached HTTPRoutes into the route table, and
   writes their statuses;
6. wakes the activator's held requests (``router.activator``) on every
   Endpoints or Service event of a backend that has some;
7. serves ``/metrics`` and ``/signals`` on the metrics port
   (``router.metricsserver``) and lists itself (address, ``http`` and
   ``metrics`` ports) in the Endpoints of ``paas-system/paas-router``
   (``router.publish``), removing itself when stopped.

It runs until cancelled; an informer that dies ends it with that error, for
the supervisor to restart the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.api import errors
from orchestrator.api.copying import copy_json
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.informer import Handler, InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from orchestrator.metrics.delegated import DelegatedAuth
from router.activator import ActivatorSettings
from router.gatewaycontroller import GatewayController
from router.http1 import ServerSettings
from router.httproutes import GatewayTable
from router.ingressroutes import (
    DEFAULT_CLASS_ANNOTATION,
    RouteTable,
    build_routes,
    is_ours,
    our_classes,
)
from router.metricsserver import Signals, serve_metrics
from router.proxy import Backends, Proxy, ProxySettings
from router.publish import publish, unpublish
from router.server import HTTPServer
from router.upstream import PoolSettings

log = logging.getLogger(__name__)

INGRESSES = BUILTIN_TYPES.require("networking.k8s.io", "Ingress")
INGRESS_CLASSES = BUILTIN_TYPES.require("networking.k8s.io", "IngressClass")
SERVICES = BUILTIN_TYPES.require("", "Service")
ENDPOINTS = BUILTIN_TYPES.require("", "Endpoints")


@dataclass(frozen=True)
class RouterSettings:
    host: str = "127.0.0.1"  # where clients reach the HTTP entry point
    port: int = 8080  # DESIGN.md's app URLs; 0 picks a free one
    advertise_address: str = ""  # what Ingress status shows ("" = host, or 127.0.0.1 for 0.0.0.0)
    controller: str = "paas.dev/router"  # IngressClasses naming this are ours
    ingress_class: str = "paas"  # created at start as the default class ("" = create none)
    sync_timeout: float = 5.0  # seconds to wait for the first lists before serving anyway
    gateway_class: str = "paas"  # GatewayClass created at start ("" = create none)
    gateway_namespace: str = "paas-system"  # where our Gateway lives (the platform's namespace)
    gateway_name: str = "paas"  # Gateway created at start, HTTP on our port ("" = create none)
    metrics_port: int = 0  # /metrics and /signals; 0 picks a free one, -1 serves none
    # a bearer token reviewed by the API server for both (paas router turns it on; embedded
    # routers in tests read their own counters)
    metrics_auth: bool = False
    signal_keepalive: float = 15.0  # seconds between blank lines on /signals (proxies cut idle)
    publish_as: tuple[str, str] = ("paas-system", "paas-router")  # our Endpoints ("" = none)
    activator: ActivatorSettings = field(default_factory=ActivatorSettings)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    informer: InformerSettings = field(default_factory=InformerSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    shutdown_grace: float = 2.0  # seconds for answers in flight at shutdown (a restart waits)

    @property
    def address(self) -> str:
        if self.advertise_address:
            return self.advertise_address
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host


def ingress_class(name: str, controller: str) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": name,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
            "labels": {"app.kubernetes.io/managed-by": "paas"},
        },
        "spec": {"controller": controller},
    }


def load_balancer_status(address: str, port: int) -> dict[str, Any]:
    """``status.loadBalancer`` naming the router: ``ip`` for an address, else ``hostname``."""
    try:
        ipaddress.ip_address(address)
        entry: dict[str, Any] = {"ip": address}
    except ValueError:
        entry = {"hostname": address}
    entry["ports"] = [{"port": port, "protocol": "TCP"}]
    return {"ingress": [entry]}


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, so that asyncio sets TCP_NODELAY on accepted connections: without
    # it a response written as head + body waits for a delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class IngressController:
    def __init__(self, client: APIClient, settings: RouterSettings) -> None:
        self.client = client
        self.settings = settings
        self.informers = SharedInformers(client, settings.informer)
        self.ingresses = self.informers.informer(INGRESSES)
        self.classes = self.informers.informer(INGRESS_CLASSES)
        services = self.informers.informer(SERVICES)
        endpoints = self.informers.informer(ENDPOINTS)
        self.signals = Signals()
        self.proxy = Proxy(
            Backends(services.get_by_name, endpoints.get_by_name),
            settings.proxy,
            settings.activator,
            self.signals.held,
        )
        self.proxy.pool.settings = settings.pool
        self.port = 0
        self.metrics_port = 0
        self._published = False
        self._status_wanted = asyncio.Event()
        self._ingress_table = RouteTable()
        self._gateway_table: GatewayTable | None = None
        rebuild = Handler(
            on_add=lambda _o: self.rebuild(),
            on_update=lambda _o, _n: self.rebuild(),
            on_delete=lambda _o: self.rebuild(),
        )
        self.ingresses.add_handler(rebuild)
        self.classes.add_handler(rebuild)
        self.gateway = GatewayController(
            client, self.informers, settings.controller, self._gateway_changed
        )
        # Held requests go as soon as their Service has a ready endpoint: watch-driven.
        wake = Handler(
            on_add=self._wake,
            on_update=lambda _o, new: self._wake(new),
        )
        endpoints.add_handler(wake)
        services.add_handler(wake)

    def _wake(self, obj: Obj) -> None:
        if self.proxy.activator.queues:
            meta = obj["metadata"]
            self.proxy.activator.endpoints_changed(meta.get("namespace", ""), meta["name"])

    def rebuild(self) -> None:
        self._ingress_table = build_routes(
            self.ingresses.list(), self.classes.list(), self.settings.controller
        )
        self._swap()
        self._status_wanted.set()

    def _gateway_changed(self, table: GatewayTable | None) -> None:
        self._gateway_table = table
        self._swap()

    def _swap(self) -> None:
        self.proxy.table = dataclasses.replace(self._ingress_table, gateway=self._gateway_table)

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def ensure_class(self) -> None:
        s = self.settings
        if not s.ingress_class:
            return
        with contextlib.suppress(errors.AlreadyExists):
            await self.client.create(INGRESS_CLASSES, ingress_class(s.ingress_class, s.controller))
            log.info("created IngressClass %s (default class)", s.ingress_class)

    async def start_gateway(self) -> None:
        """Our GatewayClass and Gateway, and our address among the routers' Endpoints."""
        s = self.settings
        try:
            await self.gateway.ensure(
                s.gateway_class, s.gateway_namespace, s.gateway_name, self.port
            )
        except errors.APIError as exc:
            log.warning("cannot create the Gateway API objects: %s", exc)
        namespace, name = s.publish_as
        if name and self.metrics_port:
            try:
                await publish(self.client, namespace, name, s.address, self.port, self.metrics_port)
                self._published = True
            except errors.APIError as exc:
                log.warning("cannot publish the router in %s/%s: %s", namespace, name, exc)

    async def stop_publishing(self) -> None:
        if not self._published:
            return
        namespace, name = self.settings.publish_as
        try:
            await asyncio.wait_for(
                unpublish(
                    self.client,
                    namespace,
                    name,
                    self.settings.address,
                    self.port,
                    self.metrics_port,
                ),
                5,
            )
        except (errors.APIError, TimeoutError, OSError) as exc:
            log.warning("cannot remove the router from %s/%s: %s", namespace, name, exc)

    async def write_statuses(self) -> None:
        """Keep every served Ingress's status at our address (woken by table rebuilds)."""
        while True:
            await self._status_wanted.wait()
            self._status_wanted.clear()
            wanted = load_balancer_status(self.settings.address, self.port)
            names, default = our_classes(self.classes.list(), self.settings.controller)
            for ing in self.ingresses.list():
                if not is_ours(ing, names, default):
                    continue
                if (ing.get("status") or {}).get("loadBalancer") == wanted:
                    continue
                body = copy_json(ing)
                body["status"] = {**(body.get("status") or {}), "loadBalancer": wanted}
                meta = ing["metadata"]
                try:
                    await self.client.replace(
                        INGRESSES, body, meta.get("namespace", ""), subresource="status"
                    )
                except errors.NotFound:
                    pass
                except errors.Conflict:
                    self._status_wanted.set()  # the newer version comes as an event
                except errors.APIError as exc:
                    log.warning(
                        "cannot write the status of Ingress %s/%s: %s",
                        meta.get("namespace"),
                        meta.get("name"),
                        exc,
                    )


async def run_router(
    client: APIClient,
    settings: RouterSettings,
    on_serving: Callable[[IngressController], None] | None = None,
) -> None:
    """Serve until cancelled; ``on_serving`` is told once the port is bound."""
    controller = IngressController(client, settings)
    try:
        await controller.ensure_class()
    except errors.APIError as exc:
        log.warning("cannot create IngressClass %s: %s", settings.ingress_class, exc)
    async with asyncio.TaskGroup() as tg:
        controller.informers.start(tg)
        try:
            await asyncio.wait_for(controller.informers.wait_synced(), settings.sync_timeout)
        except TimeoutError:
            log.warning(
                "the API server has not answered within %.0fs: serving anyway",
                settings.sync_timeout,
            )
        sock = bind_socket(settings.host, settings.port)
        controller.port = sock.getsockname()[1]
        server = HTTPServer(controller.proxy, settings.server)
        await server.start(sock)
        controller.rebuild()
        controller.gateway.address = settings.address
        controller.gateway.port = controller.port
        controller.gateway.rebuild()
        tg.create_task(controller.write_statuses(), name="ingress-status")
        tg.create_task(controller.gateway.write_statuses(), name="gateway-status")
        runner = None
        try:
            if settings.metrics_port >= 0:
                runner, controller.metrics_port = await serve_metrics(
                    controller.proxy.stats,
                    controller.signals,
                    settings.host,
                    settings.metrics_port,
                    settings.signal_keepalive,
                    DelegatedAuth(client) if settings.metrics_auth else None,
                )
            await controller.start_gateway()
            if on_serving is not None:
                on_serving(controller)
            await asyncio.Event().wait()
        finally:
            await controller.stop_publishing()
            await server.shutdown(settings.shutdown_grace)
            controller.proxy.close()
            sock.close()
            if runner is not None:
                await runner.cleanup()

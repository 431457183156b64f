"""Running the API server: open the store, bootstrap, serve over TLS.

``APIServer`` binds its socket itself before uvicorn starts, so ``port=0``
works and the real address is known (``bound_url``) as soon as ``start()``
returns. Start-up creates the namespaces every cluster has (``default``,
``kube-system``, ``kube-public``, ``kube-node-lease``) if missing; several
API servers racing to do so on one etcd is harmless.

Start-up also raises the process's garbage-collector thresholds: the server
allocates a few hundred thousand containers a second under load (decoded
objects, requests, futures), and at Python's default of a collection every
700 allocations, objects that live a few milliseconds (a request in flight)
get promoted and trigger full collections: a fifth of the CPU in a
5,000-pod burst, against under 1% with the thresholds in the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES, ResourceTypes
from orchestrator.apiserver.admissionchain import AdmissionChain
from orchestrator.apiserver.allocators import Allocators, AllocatorSettings
from orchestrator.apiserver.app import APISettings, APIState, create_app
from orchestrator.apiserver.auth import TokenAuthenticator
from orchestrator.apiserver.authz.attributes import Authorizer
from orchestrator.apiserver.authz.bootstrap import Aggregator, reconcile
from orchestrator.apiserver.authz.chain import AlwaysAllow, AuthorizerChain
from orchestrator.apiserver.authz.escalation import EscalationCheck
from orchestrator.apiserver.authz.rbac import RBACAuthorizer
from orchestrator.apiserver.connections import (
    ConnectionConfig,
    ConnectionSettings,
    connection_cap,
    limited_protocol,
    raise_open_file_limit,
    with_tls,
)
from orchestrator.apiserver.crds.controller import DefinitionController, DefinitionSettings
from orchestrator.apiserver.deadline import DEFAULT_SECONDS as DEFAULT_REQUEST_TIMEOUT
from orchestrator.apiserver.encryption.config import load_config
from orchestrator.apiserver.encryption.reload import ConfigReloader, ReloadSettings
from orchestrator.apiserver.encryption.rewrite import RewriteReport, rewrite_stale
from orchestrator.apiserver.encryption.store import EncryptedStore
from orchestrator.apiserver.inflight import InFlight, InFlightSettings
from orchestrator.apiserver.kinds import served_types
from orchestrator.apiserver.maintenance import MaintenanceSettings, run_maintenance
from orchestrator.apiserver.metrics import watch_inflight
from orchestrator.apiserver.nodeauth.access import NodeAccess, start_node_access
from orchestrator.apiserver.nodeproxy import NodeProxy, NodeProxySettings
from orchestrator.apiserver.podsecurity import PodSecurity, PodSecuritySettings
from orchestrator.apiserver.registry import AdmissionHook, Registry, WriteOptions
from orchestrator.apiserver.selfservice import publish_self
from orchestrator.apiserver.serviceaccounts import ServiceAccountSettings
from orchestrator.apiserver.serviceaccounts.wiring import ServiceAccounts
from orchestrator.apiserver.storemetrics import MeasuredStore, count_storage_objects
from orchestrator.apiserver.streams.upgrade import spdy_protocol
from orchestrator.apiserver.watch import WatchSettings
from orchestrator.apiserver.watchcache import WatchHub
from orchestrator.apiserver.webhooks import Admission
from orchestrator.store import open_store
from orchestrator.store.base import Store

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class APIServerSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 6443  # Kubernetes' usual API port; 0 picks a free one
    store: str = "sqlite"  # sqlite | sqlite://PATH | etcd://HOST:PORT[,...]
    tls_cert: Path | None = None  # None serves plain HTTP (tests of the HTTP layer only)
    tls_key: Path | None = None
    tokens_file: Path | None = None  # None switches authentication off
    allocators: AllocatorSettings = field(default_factory=AllocatorSettings)
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)
    nodes: NodeProxySettings = field(default_factory=NodeProxySettings)  # kubelet client cert
    types: ResourceTypes = BUILTIN_TYPES
    definitions: DefinitionSettings = field(default_factory=DefinitionSettings)
    pod_security: PodSecuritySettings = field(default_factory=PodSecuritySettings)
    # Publish default/kubernetes with Endpoints naming this address ("" = do not; selfservice.py)
    advertise_address: str = ""
    service_accounts: ServiceAccountSettings = field(default_factory=ServiceAccountSettings)
    root_ca: Path | None = None  # kube-root-ca.crt's content; None: DATA_DIR/ca.crt if present
    # gc.set_threshold for the process (see the module docstring); None leaves Python's own.
    gc_thresholds: tuple[int, int, int] | None = (50_000, 20, 10)
    # An EncryptionConfiguration (encryption at rest); None stores every value as written.
    encryption_config: Path | None = None
    # Rewrite values not in the first provider's form at start (encryption/rewrite.py); off
    # leaves it to updates (``kubectl replace``), e.g. on all but one of several servers.
    encryption_rewrite_on_start: bool = True
    # Read the configuration again when its file changes (--encryption-provider-config-automatic-
    # reload; encryption/reload.py), then run the rewrite pass again if it is on.
    encryption_reload: ReloadSettings = field(default_factory=ReloadSettings)
    # slow and idle clients (connections.py) and requests in flight (inflight.py)
    connections: ConnectionSettings = field(default_factory=ConnectionSettings)
    inflight: InFlightSettings = field(default_factory=InFlightSettings)
    # Authorizers asked in order after system:masters (Kubernetes' --authorization-mode):
    # "RBAC", or "AlwaysAllow" for tests that need no policy. Empty: no authorization.
    authorization_modes: tuple[str, ...] = ("Node", "RBAC")
    storage_count_interval: float = 60.0  # apiserver_storage_objects, as often as Kubernetes
    # The most a request that is not long-running may take, then 504 (deadline.py)
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP; without it every response waits ~40 ms for a delayed ACK
    # (headers and body are separate writes).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def bootstrap(registry: Registry, types: ResourceTypes) -> None:
    rt = types.by_group_kind("", "Namespace")
    assert rt is not None
    for name in SYSTEM_NAMESPACES:
        with contextlib.suppress(errors.AlreadyExists):
            await registry.create(rt, "", {"metadata": {"name": name}}, WriteOptions())


def _log_rewrite_failure(task: asyncio.Task[RewriteReport]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("rewriting stale encrypted values failed", exc_info=task.exception())


class APIServer:
    def __init__(self, settings: APIServerSettings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.hub: WatchHub | None = None
        self._server: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.bound_url = ""
        self.state: APIState | None = None  # what the handlers read (tests swap its types)
        self.rewrite: asyncio.Task[RewriteReport] | None = None  # encryption's start-up pass
        self.node_access: NodeAccess | None = None  # the Node authorizer's graph and plugins
        self.webhooks: Admission | None = None  # the webhook configurations in effect
        self.definitions: DefinitionController | None = None  # serves the kinds CRDs define

    def _rewrite(self) -> None:
        """(Re)start the pass that re-seals objects written before the current key."""
        if (
            not isinstance(self.store, EncryptedStore)
            or not self.settings.encryption_rewrite_on_start
        ):
            return
        if self.rewrite is not None and not self.rewrite.done():
            self.rewrite.cancel()  # the new pass covers what the old one had left
        # Objects written before the current key; a failure is logged, never fatal.
        self.rewrite = asyncio.create_task(rewrite_stale(self.store), name="rewrite")
        self.rewrite.add_done_callback(_log_rewrite_failure)

    async def start(self) -> str:
        s = self.settings
        if s.gc_thresholds is not None:
            gc.set_threshold(*s.gc_thresholds)
        s.data_dir.mkdir(parents=True, exist_ok=True)
        encryption = load_config(s.encryption_config) if s.encryption_config else None
        self.store = MeasuredStore(await open_store(s.store, s.data_dir))  # storemetrics.py
        if encryption is not None:  # encryption at rest (encryption/store.py)
            self.store = EncryptedStore(self.store, encryption)
        registry = Registry(self.store, Allocators(self.store, s.allocators))
        await bootstrap(registry, s.types)
        self.hub = WatchHub(self.store)
        await self.hub.start()
        if isinstance(self.store, EncryptedStore) and s.encryption_rewrite_on_start:
            self._rewrite()
        sock = bind_socket(s.host, s.port)
        host, port = sock.getsockname()[:2]
        scheme = "https" if s.tls_cert else "http"
        shown = f"[{host}]" if ":" in host else host
        self.bound_url = f"{scheme}://{shown}:{port}"
        if s.advertise_address:
            await publish_self(
                registry, s.types, s.allocators.service_cidr, s.advertise_address, port
            )
        types = served_types(s.types)
        # ServiceAccounts (issue 16): bound tokens, TokenRequest, admission (serviceaccounts/)
        accounts = ServiceAccounts(
            registry,
            self.hub,
            s.types,
            s.data_dir,
            s.service_accounts,
            s.root_ca or s.data_dir / "ca.crt",
        )
        state = APIState(
            registry=registry,
            hub=self.hub,
            auth=accounts.authenticator(s.tokens_file)
            if s.tokens_file
            else TokenAuthenticator(None),
            service_accounts=accounts,
            types=types,
            settings=APISettings(
                server_address=f"{shown}:{port}", watch=s.watch, request_timeout=s.request_timeout
            ),
            nodes=NodeProxy(s.nodes),
            inflight=InFlight(s.inflight),
        )
        self.state = state
        watch_inflight(state.inflight)  # apiserver_current_inflight_requests (metrics.py)
        definitions = DefinitionController(
            registry, self.hub, types, lambda served: setattr(state, "types", served), s.definitions
        )
        await definitions.sync()  # the kinds CRDs define are served from the first request
        self.definitions = definitions
        admission = Admission(registry, self.hub, types)
        await admission.load()
        # -- admission: built-in plugins before the webhooks (admissionchain.py) --
        self.webhooks = admission
        hooks: list[AdmissionHook] = [accounts.admission]
        # -- authorization (issue 16, rbac): default policy, the chain, escalation checks --
        rbac: RBACAuthorizer | None = None
        if s.authorization_modes:
            await reconcile(registry, s.types)
            check_authorization_modes(s.authorization_modes)
            modes: list[Authorizer] = []
            for mode in s.authorization_modes:
                if mode == "RBAC":
                    rbac = RBACAuthorizer()
                    modes.append(rbac)
                elif mode == "AlwaysAllow":
                    modes.append(AlwaysAllow())
            state.authorizer = AuthorizerChain(modes)
            if rbac is not None:
                # Aggregated roles are whole before the first request, and no write of the
                # server's own lands after start() returns (clients watch from what they saw).
                aggregator = Aggregator(registry, self.hub, s.types)
                aggregated = await aggregator.sync()
                rbac_revision = await rbac.load(registry, s.types)
                hooks.append(EscalationCheck(state.authorizer, rbac))
        # -- nodeauth (issue 16): NodeRestriction admits first; the Node authorizer asks first
        self.node_access = await start_node_access(registry, self.hub)
        if self.node_access.admission is not None:
            hooks.insert(0, self.node_access.admission)
        if state.authorizer is not None and "Node" in s.authorization_modes:
            # in its place among the modes, as --authorization-mode=Node,RBAC orders them
            place = s.authorization_modes.index("Node")
            state.authorizer.authorizers.insert(place, self.node_access.authorizer)
        # Pod Security validates after the mutating plugins, before the webhooks
        hooks.append(PodSecurity(registry, types, s.pod_security))
        registry.admission = AdmissionChain([*hooks, admission])
        # Tokens are checked against a cache of accounts and pods: listed before serving, so a
        # restarted server does not refuse good tokens for its first moments.
        following = asyncio.create_task(accounts.run(), name="service accounts")
        loaded = asyncio.create_task(accounts.objects.loaded.wait())
        await asyncio.wait({following, loaded}, return_when=asyncio.FIRST_COMPLETED)
        if following.done():
            loaded.cancel()
            following.result()  # raises what stopped it
        config = ConnectionConfig(  # uvicorn's, TLS per connection (connections.py)
            create_app(state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,  # nothing proxies the API server: never trust X-Forwarded-*
            # httptools plus SPDY/3.1 upgrades for exec/attach/port-forward, which uvicorn's own
            # protocols cannot answer with a 101
            # (streams/upgrade.py), within the connection limits (connections.py)
            http=with_tls(
                limited_protocol(
                    spdy_protocol(state, state.streams),
                    s.connections,
                    connection_cap(s.connections, raise_open_file_limit()),
                ),
                s.connections.header_timeout,
            ),
            timeout_keep_alive=int(s.connections.idle_timeout),
            ws="wsproto",  # answers pings with pongs, as kubectl requires; see pyproject.toml
            timeout_graceful_shutdown=1,
            ssl_certfile=str(s.tls_cert) if s.tls_cert else None,
            ssl_keyfile=str(s.tls_key) if s.tls_key else None,
        )
        self._server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self._server.serve(sockets=[sock]), name="http"))
        self._tasks.append(
            asyncio.create_task(
                run_maintenance(self.store, registry, s.types, s.maintenance), name="maintenance"
            )
        )
        self._tasks.append(asyncio.create_task(definitions.run(), name="definitions"))
        self._tasks.append(
            asyncio.create_task(
                count_storage_objects(
                    self.store, types, s.storage_count_interval, lambda: state.types
                ),
                name="storage-objects",
            )
        )
        self._tasks.append(asyncio.create_task(admission.run(), name="admission"))
        if (
            isinstance(self.store, EncryptedStore)
            and s.encryption_reload.enabled
            and s.encryption_config is not None
        ):
            reloader = ConfigReloader(
                self.store, s.encryption_config, s.encryption_reload, self._rewrite
            )
            self._tasks.append(asyncio.create_task(reloader.run(), name="encryption reload"))
        self._tasks.append(following)
        if rbac is not None:
            self._tasks.append(
                asyncio.create_task(
                    rbac.run(registry, self.hub, s.types, rbac_revision), name="rbac"
                )
            )
            self._tasks.append(
                asyncio.create_task(aggregator.run(aggregated), name="rbac-aggregation")
            )
        while not self._server.started:
            if self._tasks[0].done():
                self._tasks[0].result()
            await asyncio.sleep(0.01)
        return self.bound_url

    async def wait(self) -> None:
        """Until any part stops; re-raises its failure."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self.hub is not None:
            await self.hub.stop()
        if self.rewrite is not None and not self.rewrite.done():
            self.rewrite.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.rewrite
        for task in self._tasks[1:]:  # the first is uvicorn's: it ends by should_exit
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        if self._server is not None:
            # A TLS close waits for the peer's close_notify; a client that keeps an idle
            # keep-alive socket open never sends it. Drop what is left, or its socket leaks.
            for conn in list(self._server.server_state.connections):
                transport = getattr(conn, "transport", None)
                if transport is not None:
                    transport.abort()
            await asyncio.sleep(0)
        if self.store is not None:
            await self.store.close()


AUTHORIZATION_MODES = ("Node", "RBAC", "AlwaysAllow")


def check_authorization_modes(modes: tuple[str, ...]) -> None:
    """ValueError naming what is wrong with a mode list (``--authorization-mode``)."""
    if not modes:
        raise ValueError(
            f"at least one authorization mode is needed ({', '.join(AUTHORIZATION_MODES)})"
        )
    for mode in modes:
        if mode not in AUTHORIZATION_MODES:
            raise ValueError(
                f"unknown authorization mode {mode!r} (one of {', '.join(AUTHORIZATION_MODES)})"
            )
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization mode listed twice: {','.join(modes)}")

"""The components ``paas up`` runs, in start order, each its own ``paas`` process.

A component is a name, its argv (read again at every restart), its log,
when it counts as ready, and the key of ``endpoints.json`` it serves. Ports
given as 0 are learnt from the address file each server writes once it
listens and kept in ``Addresses``, so a restarted component binds the same
port and the files already written stay valid.

Readiness is asked of the API through the project's own client:

- apiserver: it wrote its URL and ``/readyz`` answers 200;
- dns: it wrote its address (it serves before it writes);
- registry (Docker runtime only): the image registry Dockerfile builds
  push to (paas/up/registry.py); ready when ``GET /v2/`` answers 200 at
  the address ``paas up`` chose and wrote to ``run/registry.url``;
  endpoints.json ``registry`` is ``http://127.0.0.1:PORT``, and the builder
  is given ``--registry 127.0.0.1:PORT``;
- router: it wrote its address (it writes once its first lists are in and
  its port is bound; it creates the default IngressClass ``paas`` itself);
- controller-manager, scheduler: started (they wait for the API themselves);
- node: a Node of this run's agent (its boot ID differs from what the last
  run left in the store) reports Ready, so ``kubectl get nodes`` right
  after the banner lists a node that takes pods;
- builder: it wrote its URL and ``/healthz`` answers there; started after
  the router, so it is told the router's real port. Once ready, ``paas up``
  publishes it at ``git.<domain>`` through the router (``gitroute``) and
  endpoints.json ``git`` is ``http://git.<domain>:HTTP_PORT`` when that
  answers (the builder's own URL otherwise);
- app-controller: started (it deploys pushed branches; a push waits for it);
- serving-controller: started (Knative Services; it registers its own admission
  webhook, listening on HOST, once it leads);
- autoscaler: started (it scales revisions on the load the routers report,
  to and from zero, with ``--autoscale-window`` and ``--scale-to-zero-grace``).

Every component serves Prometheus metrics (``paas/up/metricstargets.py``
lists them for a scraper in ``DATA_DIR/metrics-targets.json``).

Each component runs as its own identity, with its own kubeconfig
(``--kubeconfig DATA_DIR/identities/<component>.kubeconfig``, paas/up/datadir.py):
no argv carries a token. Later components are one more entry in
``UpComponents.all``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from orchestrator.api import errors
from orchestrator.api.conditions import condition_status
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.encryption.config import ensure_default_config
from orchestrator.client.config import ClientConfig
from orchestrator.client.rest import APIClient
from paas.serving.kinds import GATEWAY_NAMESPACE
from paas.serving.kinds import SERVICES as KNATIVE_SERVICES
from paas.supervisor import Component
from paas.up.datadir import NODE, Credentials
from paas.up.metricstargets import metrics_flags
from paas.up.registry import HOST as REGISTRY_HOST
from paas.up.registry import RegistryFiles, free_port, write_config
from paas.up.settings import UpSettings

NODES = BUILTIN_TYPES.require("", "Node")
PROBE_TIMEOUT = 2.0  # one readiness question; the supervisor asks again
SERVING_PROBE_NAMESPACE = GATEWAY_NAMESPACE  # the serving controller makes it before its webhook
SERVING_PROBE: Obj = {  # a Knative Service the serving webhook must refuse (dry run only)
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "paas-up-probe", "namespace": SERVING_PROBE_NAMESPACE},
    "spec": {
        "template": {"spec": {"containers": [{"image": "paas-up-probe"}]}},
        "traffic": [{"latestRevision": True, "percent": 90}],
    },
}


@dataclass
class Addresses:
    """What the servers said once they listened: URLs for argv, the banner and endpoints.json."""

    api: str = ""  # https://HOST:PORT
    dns: str = ""  # udp://HOST:PORT
    builder: str = ""  # http://HOST:PORT, the builder itself (nodes fetch slugs there)
    registry: str = ""  # HOST:PORT, the image registry (as image references name it)
    endpoints: dict[str, str] = field(default_factory=dict)  # endpoints.json, key -> URL

    @staticmethod
    def port(url: str, default: int) -> int:
        return int(url.rsplit(":", 1)[1]) if url else default


@dataclass
class UpComponent(Component):
    endpoint: str = ""  # the endpoints.json key this component serves ("" none)
    address_file: Path | None = None  # where it writes its URL once it listens


def read_address(path: Path | None) -> str:
    try:
        return path.read_text().strip() if path is not None else ""
    except FileNotFoundError:
        return ""


class UpComponents:
    """The component list for one ``paas up``, and the readiness questions it asks."""

    def __init__(self, settings: UpSettings, credentials: Credentials) -> None:
        self.settings = settings
        self.credentials = credentials
        self.addresses = Addresses()
        self.client: APIClient | None = None  # once the API serves
        self.stale_boot_ids: dict[str, str] = {}  # node -> boot ID the store had before us
        self._py = [sys.executable, "-m", "paas"]

    def all(self) -> list[UpComponent]:
        s = self.settings
        logs = s.logs
        apiserver = UpComponent(
            "apiserver",
            self._apiserver_argv,
            logs / "apiserver.log",
            endpoint="api",
            address_file=s.run_dir / "apiserver.url",
        )
        apiserver.ready = lambda: self._api_ready(apiserver.address_file)
        dns = UpComponent(
            "dns",
            self._dns_argv,
            logs / "dns.log",
            endpoint="dns",
            address_file=s.run_dir / "dns.url",
        )
        dns.ready = lambda: self._written(dns.address_file)
        router = UpComponent(
            "router",
            self._router_argv,
            logs / "router.log",
            endpoint="http",
            address_file=s.run_dir / "router.url",
        )
        router.ready = lambda: self._written(router.address_file)
        builder = UpComponent(
            "builder",
            self._builder_argv,
            logs / "builder.log",
            endpoint="git",
            address_file=s.run_dir / "builder.url",
        )
        builder.ready = lambda: self._healthy(builder.address_file)
        registry = UpComponent(
            "registry",
            self._registry_argv,
            logs / "registry.log",
            endpoint="registry",
            address_file=s.run_dir / "registry.url",
        )
        registry.ready = lambda: self._registry_ready(registry.address_file)
        return [
            apiserver,
            dns,
            *([registry] if s.runs_registry else []),  # before the builder, which pushes there
            UpComponent(
                "controller-manager",
                lambda: [
                    *self._py,
                    "controller-manager",
                    "--kubeconfig",
                    self._kubeconfig("controller-manager"),
                    "--cluster-cidr",
                    s.cluster_cidr,
                    "--hpa-sync-period",
                    str(s.hpa_sync_period),
                    "--hpa-downscale-stabilization",
                    str(s.hpa_downscale_stabilization),
                    "--hpa-cpu-initialization-period",
                    str(s.hpa_cpu_initialization_period),
                    *metrics_flags(s, "controller-manager"),
                ],
                logs / "controller-manager.log",
            ),
            UpComponent(
                "scheduler",
                lambda: [
                    *self._py,
                    "scheduler",
                    "--kubeconfig",
                    self._kubeconfig("scheduler"),
                    *metrics_flags(s, "scheduler"),
                ],
                logs / "scheduler.log",
            ),
            router,
            builder,  # before the node: the node fetches slugs from it (--slug-source)
            UpComponent("app-controller", self._app_controller_argv, logs / "app-controller.log"),
            UpComponent(
                "serving-controller",
                self._serving_controller_argv,
                logs / "serving-controller.log",
                ready=self._serving_checked,
            ),
            UpComponent("autoscaler", self._autoscaler_argv, logs / "autoscaler.log"),
            UpComponent("node", self.node_argv, logs / "node.log", ready=self._nodes_ready),
        ]

    # -- argv ------------------------------------------------------------------------------

    def _kubeconfig(self, component: str) -> str:
        """The component's own kubeconfig: its identity, never the admin's (paas/up/datadir.py)."""
        return str(self.credentials.kubeconfig(component))

    def _apiserver_argv(self) -> list[str]:
        s, c = self.settings, self.credentials
        return [
            *self._py,
            "apiserver",
            "--data-dir",
            str(s.data_dir),
            "--host",
            s.host,
            "--port",
            str(Addresses.port(self.addresses.api, s.api_port)),
            "--store",
            s.store,
            "--tls-cert",
            str(c.serving.cert),
            "--tls-key",
            str(c.serving.key),
            "--tokens-file",
            str(c.tokens_file),
            "--address-file",
            str(s.run_dir / "apiserver.url"),
            "--kubelet-client-cert",
            str(c.kubelet_client.cert),
            "--kubelet-client-key",
            str(c.kubelet_client.key),
            "--service-cluster-ip-range",
            s.service_cidr,
            *(["--advertise-address", s.advertise_address] if s.advertise_address else []),
            # Secrets encrypted at rest with a key made on first start (encryption/config.py)
            "--encryption-provider-config",
            str(ensure_default_config(s.data_dir / "encryption.yaml")),
            "--encryption-provider-config-automatic-reload",  # keys rotate without a restart
        ]

    def _dns_argv(self) -> list[str]:
        s = self.settings
        root = s.network == "root"
        return [
            *self._py,
            "dns",
            "--kubeconfig",
            self._kubeconfig("dns"),
            "--host",
            s.host,
            "--port",
            str(Addresses.port(self.addresses.dns, s.dns_port)),
            "--domain",
            s.domain,
            "--router-ip",
            s.reachable_ip,
            "--address-file",
            str(s.run_dir / "dns.url"),
            # pods reach it at its own cluster IP, DNATed by the node's proxy (root mode)
            *(["--service-ip", s.dns_ip, "--advertise-address", s.reachable_ip] if root else []),
            *(f"--upstream={u}" for u in s.dns_upstreams),
            *metrics_flags(s, "dns"),
        ]

    def _router_argv(self) -> list[str]:
        s = self.settings
        return [
            *self._py,
            "router",
            "--kubeconfig",
            self._kubeconfig("router"),
            "--host",
            s.host,
            "--http-port",
            str(Addresses.port(self.addresses.endpoints.get("http", ""), s.http_port)),
            "--advertise-address",
            s.reachable_ip,
            "--address-file",
            str(s.run_dir / "router.url"),
            # any free port: the router lists it in paas-system/paas-router's Endpoints,
            # where the autoscaler looks, so nothing else needs to know it
            "--metrics-port",
            "0",
        ]

    def _registry_argv(self) -> list[str]:
        """``docker-registry serve CONFIG``, its config (and URL file) written for this start."""
        s = self.settings
        if not self.addresses.registry:
            port = s.registry_port or free_port()
            self.addresses.registry = f"{REGISTRY_HOST}:{port}"
        config = write_config(RegistryFiles(s.data_dir / "registry"), self.addresses.registry)
        url_file = s.run_dir / "registry.url"
        url_file.parent.mkdir(parents=True, exist_ok=True)
        url_file.write_text(f"http://{self.addresses.registry}")
        return [s.registry_binary, "serve", str(config)]

    def _builder_argv(self) -> list[str]:
        s = self.settings
        return [
            *self._py,
            "builder",
            "--kubeconfig",
            self._kubeconfig("builder"),
            "--data-dir",
            str(s.data_dir / "builder"),
            "--host",
            s.reachable_ip,
            "--port",
            str(Addresses.port(self.addresses.builder, 0)),
            "--domain",
            s.domain,
            "--http-port",
            str(Addresses.port(self.addresses.endpoints.get("http", ""), s.http_port)),
            "--address-file",
            str(s.run_dir / "builder.url"),
            # only the Docker runtime runs images: elsewhere a Dockerfile is refused at once
            *([] if s.runtime == "docker" else ["--no-dockerfile-builds"]),
            *(["--registry", self.addresses.registry] if self.addresses.registry else []),
            *metrics_flags(s, "builder"),
        ]

    def _url_maker_argv(self, command: str) -> list[str]:
        """A controller that writes app URLs: it needs the domain and the router's real port."""
        s = self.settings
        return [
            *self._py,
            command,
            "--kubeconfig",
            self._kubeconfig(command),
            "--domain",
            s.domain,
            "--http-port",
            str(Addresses.port(self.addresses.endpoints.get("http", ""), s.http_port)),
            *metrics_flags(s, command),
        ]

    def _app_controller_argv(self) -> list[str]:
        return self._url_maker_argv("app-controller")

    def _autoscaler_argv(self) -> list[str]:
        s = self.settings
        tick = min(2.0, max(0.2, s.autoscale_window / 10))  # Knative: 2 s; less in short windows
        return [
            *self._py,
            "autoscaler",
            "--kubeconfig",
            self._kubeconfig("autoscaler"),
            "--stable-window",
            str(s.autoscale_window),
            "--scale-to-zero-grace-period",
            str(s.scale_to_zero_grace),
            "--tick",
            str(tick),
            "--enable-scale-to-zero" if s.scale_to_zero else "--no-enable-scale-to-zero",
            *metrics_flags(s, "autoscaler"),
        ]

    def _serving_controller_argv(self) -> list[str]:
        s = self.settings
        return [
            *self._url_maker_argv("serving-controller"),
            "--webhook-host",  # the API server calls its admission webhook there
            s.host,
            "--advertise-address",
            s.reachable_ip,
        ]

    def node_argv(self, *extra: str) -> list[str]:
        """``paas node`` as this cluster runs it; ``extra`` flags (``--teardown``) at the end."""
        s = self.settings
        if s.runtime == "simulated":
            flags = ["--count", str(s.nodes)]
        else:
            flags = [
                f"--name={s.node}",
                "--data-dir",
                str(s.data_dir / "node"),
                "--cluster-cidr",
                s.cluster_cidr,
                "--network",
                s.network,
                "--service-cidr",
                s.service_cidr,
                *(["--cluster-dns", s.dns_ip] if s.network == "root" else []),
                *(["--slug-source", builder] if (builder := self.addresses.builder) else []),
                "--stop-pods-on-exit",
                "--stats-interval",
                str(s.stats_interval),
            ]
        return [
            *self._py,
            "node",
            "--kubeconfig",  # the API's URL, the CA and the node's token: none on the command line
            self._kubeconfig(NODE),
            "--runtime",
            s.runtime,
            *flags,
            *extra,
        ]

    # -- readiness -------------------------------------------------------------------------

    async def _written(self, path: Path | None) -> bool:
        return bool(read_address(path))

    async def _healthy(self, path: Path | None) -> bool:
        """It wrote its URL and ``/healthz`` there answers 200 (a stale file's does not)."""
        url = read_address(path)
        if not url:
            return False
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as http:
                return (await http.get(url + "/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def _registry_ready(self, path: Path | None) -> bool:
        """The registry answers ``GET /v2/`` (the API's version check) with 200."""
        url = read_address(path)
        if not url:
            return False
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as http:
                return (await http.get(url + "/v2/")).status_code == 200
        except httpx.HTTPError:
            return False

    async def _api_ready(self, path: Path | None) -> bool:
        url = read_address(path)
        if not url:
            return False
        config = ClientConfig(
            server=url, token=self.credentials.admin_token, ca_data=self.settings.ca.read_bytes()
        )
        client = APIClient(config, timeout=PROBE_TIMEOUT)
        try:
            await client.request("GET", "/readyz")
        except errors.APIError:
            await client.close()
            return False
        self.addresses.api = url
        self.client = client
        return True

    async def _serving_checked(self) -> bool:
        """Writes of the serving kinds are checked: the API server calls the controller's webhook.

        Until then a Knative Service would be stored unchecked (its CRD is
        served from the start). A dry run of a Service whose traffic sums to
        90 answers the question end to end: the webhook configurations are in
        effect in the API server, and the webhook they name answers with its
        denial. Nothing is stored.
        """
        assert self.client is not None
        try:
            await self.client.create(
                KNATIVE_SERVICES, SERVING_PROBE, SERVING_PROBE_NAMESPACE, dryRun="All"
            )
        except errors.APIError as exc:
            return "denied the request" in exc.message
        return False  # accepted: not checked yet

    async def read_boot_ids(self) -> None:
        """The boot IDs of the Nodes a run before this one left (none on a new data dir)."""
        self.stale_boot_ids = {
            metadata_of(node).get("name", ""): boot_id(node) for node in await self._list_nodes()
        }

    async def _list_nodes(self) -> list[Obj]:
        if self.client is None:
            return []
        try:
            return list((await self.client.list(NODES)).get("items") or [])
        except errors.APIError:
            return []

    async def _nodes_ready(self) -> bool:
        fresh = [
            node
            for node in await self._list_nodes()
            if boot_id(node) != self.stale_boot_ids.get(metadata_of(node).get("name", ""))
            and condition_status(node, "Ready") == "True"
        ]
        return len(fresh) >= self.settings.nodes

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def boot_id(node: Obj) -> str:
    return str(node.get("status", {}).get("nodeInfo", {}).get("bootID", ""))

"""What ``paas up`` runs, once its flags are read and the preflight has chosen.

One frozen dataclass: the CLI fills it from flags and ``preflight.plan``;
everything below derives from it (component argv, the banner, the files in
the data dir), so nothing reads flags twice.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

SERVICE_CIDRS = {"root": "10.96.0.0/16", "loopback": "127.10.0.0/16"}  # DESIGN.md


@dataclass(frozen=True)
class UpSettings:
    data_dir: Path  # resolved; holds the CA, tokens, the store, logs and the node's state
    host: str = "127.0.0.1"  # where the API and DNS listen
    api_port: int = 6443  # 0: a free one, kept across restarts so kubeconfig stays valid
    http_port: int = 8080  # the router's: app URLs; 0 picks a free one, kept across restarts
    dns_port: int = 5353  # 0: a free one, kept across restarts
    runtime: str = "process"  # process, docker or simulated: what the preflight chose
    network: str = "loopback"  # root or loopback: what the preflight chose
    notes: tuple[str, ...] = ()  # the preflight's reasons, printed with the banner
    dns_upstreams: tuple[str, ...] = ()  # none: names outside the cluster are REFUSED
    nodes: int = 1  # simulated nodes (a real node runs per machine)
    node_name: str = ""  # "" = this host's name
    store: str = "sqlite"
    cluster_cidr: str = "10.244.0.0/16"  # each node gets a /24 of it
    hpa_sync_period: float = 15.0  # the HPA controller's (Kubernetes'); tests shorten the timers
    hpa_downscale_stabilization: float = 300.0  # Kubernetes' default window for HPAs
    hpa_cpu_initialization_period: float = 300.0  # Kubernetes' default
    domain: str = "localhost"
    docker_url: str = "unix:///var/run/docker.sock"
    ready_timeout: float = 60.0  # a component not ready by then stops `paas up`
    example: Path | None = None  # pushed once up (`make run`): a new user's first live URL
    registry_port: int = 5000  # the image registry's (distribution's default); 0 picks a free one
    # docker-registry's path, found by the CLI on the Docker runtime ("": no registry is run and
    # Dockerfile images stay on the engine that built them, this single node's).
    registry_binary: str = ""
    autoscale_window: float = 60.0  # the autoscaler's stable window (Knative's); tests shorten it
    scale_to_zero_grace: float = 30.0  # an idle revision's last pod stays this long (Knative's)
    scale_to_zero: bool = True  # cluster-wide switch (Knative's enable-scale-to-zero)
    stats_interval: float = 10.0  # the node's CPU/memory readings (cAdvisor's); tests shorten it
    metrics_targets_interval: float = 2.0  # how soon metrics-targets.json follows a restart

    @property
    def runs_registry(self) -> bool:
        """Only the Docker runtime runs Dockerfile images, so only it needs the registry."""
        return self.runtime == "docker" and bool(self.registry_binary)

    @property
    def service_cidr(self) -> str:
        return SERVICE_CIDRS[self.network]

    @property
    def dns_ip(self) -> str:
        """The cluster DNS's own cluster IP (the range's tenth address, as kubeadm has it)."""
        return str(ipaddress.ip_network(self.service_cidr).network_address + 10)

    @property
    def reachable_ip(self) -> str:
        """An address of ``host`` that clients can dial (a wildcard listens on loopback too)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "localhost") else self.host

    @property
    def advertise_address(self) -> str:
        """Where ``default/kubernetes`` points ("" = not published).

        Root mode only: pods reach 10.96.0.1:443 by DNAT (the range is IPv4);
        loopback mode's proxy could not bind port 443 without root.
        """
        ip = self.reachable_ip
        return ip if self.network == "root" and ":" not in ip else ""

    @property
    def node(self) -> str:
        return (self.node_name or socket.gethostname()).lower()

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def ca(self) -> Path:
        return self.data_dir / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def run_dir(self) -> Path:
        """Addresses the components write once they serve."""
        return self.data_dir / "run"

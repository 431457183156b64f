"""What ``paas up`` prints once everything is ready: where things are and what to try."""

from __future__ import annotations

import os
from pathlib import Path

from paas.up.components import Addresses
from paas.up.settings import UpSettings


def lowest_unprivileged_port(
    path: Path = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start"),
) -> int:
    """The lowest port a process without privileges may bind (1 where the kernel has no rule)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 1


def banner(s: UpSettings, addresses: Addresses, seconds: float, *, root: bool) -> list[str]:
    lines = [
        f"paas is up in {seconds:.1f}s (data dir {s.data_dir})",
        f"  API:        {addresses.api}",
        f"  kubeconfig: {s.kubeconfig}",
        f"  token:      {s.data_dir / 'admin.token'}",
    ]
    if s.runtime == "simulated":
        lines.append(f"  nodes:      {s.nodes} x simulated (pods are marked Running; nothing runs)")
    else:
        lines.append(f"  node:       {s.node} ({s.runtime} runtime, {s.data_dir / 'node'})")
        where = f"cluster DNS for pods at {s.dns_ip}" if s.network == "root" else "no pod DNS"
        lines.append(f"  network:    {s.network} mode: Service IPs from {s.service_cidr}, {where}")
        low = lowest_unprivileged_port()
        if s.network == "loopback" and not root and low > 1:
            lines.append(
                f"  note:       Service ports below {low} cannot be bound without root; "
                "to allow them: sudo sysctl -w net.ipv4.ip_unprivileged_port_start=1"
            )
    lines += [f"  note:       {note}" for note in s.notes]
    dns_host, _, dns_port = addresses.dns.removeprefix("udp://").rpartition(":")
    dig = f"dig @{dns_host} -p {dns_port} web.default.svc.cluster.local"
    http = addresses.endpoints.get("http", "")
    if http:
        port = http.rpartition(":")[2]
        lines.append(f"  HTTP:       {http}  (apps at http://<app>.{s.domain}:{port})")
    git = addresses.endpoints.get("git", "")
    if git:
        lines.append(f"  git:        {git}/<app>.git  (in a repository: paas git-remote APP)")
    registry = addresses.endpoints.get("registry", "")
    if registry:
        lines.append(f"  registry:   {registry}  (Dockerfile images, pulled by the nodes)")
    lines += [
        f"  DNS:        {addresses.dns}  ({dig})",
        f"  logs:       {s.logs}",
        f"  try:        kubectl --kubeconfig {s.kubeconfig} get nodes",
        "Press Ctrl-C to stop.",
    ]
    return lines


def is_root() -> bool:
    return os.geteuid() == 0

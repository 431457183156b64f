"""UDP has no connection to end, so conntrack keeps sending a flow where it first went.

A UDP client that keeps its socket (a resolver, say) would go on reaching a
removed endpoint, or stay refused after its service gains one, for as long
as its packets keep the conntrack entry alive. After each sync the proxy
deletes the entries a change made stale, like kube-proxy: flows to a UDP
service that had no endpoint before (they were refused), and flows that
were translated to an endpoint that is gone. ``udp_flushes`` decides, pure;
``flush`` runs the ``conntrack`` tool, and does nothing where it is missing.
"""

from __future__ import annotations

import logging
import shutil
import subprocess

from orchestrator.proxy.rules import ServicePort

log = logging.getLogger(__name__)


def udp_flushes(old: list[ServicePort], new: list[ServicePort]) -> list[tuple[str, ...]]:
    """``conntrack -D`` filters for the UDP flows the change from ``old`` to ``new`` made stale."""
    before = {sp.key: sp for sp in old if sp.protocol == "UDP"}
    filters: list[tuple[str, ...]] = []
    for sp in new:
        if sp.protocol != "UDP":
            continue
        previous = before.get(sp.key)
        was = set(previous.endpoints) if previous else set()
        if sp.endpoints and not was:
            filters.append(("--orig-dst", sp.cluster_ip, "--orig-port-dst", str(sp.port)))
            if sp.node_port:
                filters.append(("--orig-port-dst", str(sp.node_port)))
        for gone in sorted(was - set(sp.endpoints), key=lambda e: (e.ip, e.port)):
            filters.append(("--orig-dst", sp.cluster_ip, "--dst-nat", gone.ip))
    gone_services = before.keys() - {sp.key for sp in new}
    for key in sorted(gone_services):
        filters.append(
            ("--orig-dst", before[key].cluster_ip, "--orig-port-dst", str(before[key].port))
        )
    return filters


def flush(filters: list[tuple[str, ...]]) -> None:
    """Delete the matching UDP entries (exit 1 with nothing matched is normal)."""
    if not filters or not shutil.which("conntrack"):
        return
    for matcher in filters:
        argv = ["conntrack", "-D", "-p", "udp", *matcher]
        try:
            subprocess.run(argv, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("%s: %s", " ".join(argv), exc)

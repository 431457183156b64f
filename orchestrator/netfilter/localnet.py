"""route_localnet: letting traffic from 127.0.0.1 be DNATed to a pod.

``curl 127.0.0.1:<nodePort>`` or ``127.0.0.1:<hostPort>`` on a node is
DNATed in nat OUTPUT to a pod address behind the node bridge; by default the
kernel drops a packet with a 127/8 source routed out of ``lo``. kube-proxy
sets ``net.ipv4.conf.all.route_localnet=1`` for the same reason; the rules
that use it masquerade such traffic, so the pod sees the bridge's address
and can answer.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.netfilter.iptables import KernelError

ROUTE_LOCALNET = Path("/proc/sys/net/ipv4/conf/all/route_localnet")


def enable_route_localnet() -> None:
    """route_localnet=1 (needs root); KernelError says why it could not be set."""
    try:
        if ROUTE_LOCALNET.read_text().strip() != "1":
            ROUTE_LOCALNET.write_text("1\n")
    except OSError as exc:
        raise KernelError(f"setting {ROUTE_LOCALNET} to 1: {exc}") from exc

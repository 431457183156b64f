"""hostPort for the process runtime in root mode: DNAT from the node's addresses to a pod.

The Docker runtime has the engine publish a pod's ``hostPort``. Pods of the
process runtime sit in network namespaces of their own on the node bridge,
so the node writes what CNI's portmap plugin would, in chains of its own:

- ``PAASHP-<hash>`` (nat, jumped to from PREROUTING for traffic arriving
  from elsewhere and from OUTPUT for the node itself, only for packets
  addressed to one of the node's own addresses): one DNAT per mapping, to
  ``podIP:containerPort``, restricted to ``hostIP`` when the pod names one;
- ``PAASHPM-<hash>`` (nat POSTROUTING): a connection from 127/8 (``curl
  127.0.0.1:8080``) leaves through the bridge only thanks to route_localnet,
  and the pod cannot answer 127.0.0.1, so it is masqueraded to the bridge's
  address.

Both chains are rewritten whole from the runtime's sandbox records after each
change, in one ``iptables-restore``, so adoption after a restart and removal
of a pod are the same operation. Chain names carry the node's hash, so two
nodes on one machine never touch each other's rules, and a prefix other
than the service proxy's ``PAAS-``, which treats every chain so named as
its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from orchestrator.kubelet.runtimes.base import PortMapping
from orchestrator.netfilter import iptables, localnet
from orchestrator.netfilter.iptables import Jump

Mapping = tuple[str, PortMapping]  # (pod IP, what the pod asked for)


def _hash(node_name: str) -> str:
    return hashlib.sha256(node_name.encode()).hexdigest()[:8].upper()


def chains(node_name: str) -> tuple[str, str]:
    """(DNAT chain, masquerade chain) of the node."""
    h = _hash(node_name)
    return f"PAASHP-{h}", f"PAASHPM-{h}"  # not "PAAS-": those are the service proxy's


def jumps(node_name: str) -> tuple[Jump, ...]:
    dnat, masq = chains(node_name)
    comment = ("-m", "comment", "--comment", f"paas host ports {node_name}")
    local = ("-m", "addrtype", "--dst-type", "LOCAL", *comment, "-j", dnat)
    return (
        Jump("nat", "PREROUTING", local),
        Jump("nat", "OUTPUT", local),
        Jump("nat", "POSTROUTING", (*comment, "-j", masq)),
    )


def restore_text(node_name: str, bridge: str, mappings: Iterable[Mapping]) -> str:
    """The nat table's input for ``iptables-restore --noflush``: both chains, whole."""
    dnat, masq = chains(node_name)
    lines = ["*nat", f":{dnat} - [0:0]", f":{masq} - [0:0]"]
    for ip, m in sorted(mappings, key=lambda pm: (pm[1].host_port, pm[1].protocol, pm[0])):
        proto = m.protocol.lower()
        where = f"-d {m.host_ip}/32 " if m.host_ip and m.host_ip != "0.0.0.0" else ""
        lines.append(
            f"-A {dnat} {where}-p {proto} -m {proto} --dport {m.host_port} "
            f"-j DNAT --to-destination {ip}:{m.container_port}"
        )
    lines.append(f"-A {masq} -s 127.0.0.0/8 -o {bridge} -j MASQUERADE")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def program(node_name: str, bridge: str, mappings: Iterable[Mapping]) -> None:
    """Make the kernel's rules say exactly ``mappings`` (blocking; KernelError says why)."""
    iptables.restore(restore_text(node_name, bridge, mappings))
    iptables.ensure_jumps(jumps(node_name))
    localnet.enable_route_localnet()


def remove(node_name: str) -> None:
    """Every rule of the node's host ports: the jumps, then both chains (blocking)."""
    if not iptables.have_iptables():
        return
    iptables.remove_jumps(jumps(node_name))
    for chain in chains(node_name):
        for op in ("-F", "-X"):
            iptables.run(["iptables", "-w", "-t", "nat", op, chain], check=False)

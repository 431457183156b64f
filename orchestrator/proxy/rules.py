"""Service rules as iptables-restore text: pure, from Services and Endpoints.

The node proxy in root mode never forwards a byte itself; it writes kernel
rules, the way kube-proxy's iptables mode does. Everything lives in chains
of our own named ``PAAS-*`` (so leftovers are found by prefix), rewritten in
one atomic ``iptables-restore --noflush`` so an update never leaves a gap:

nat table
  ``PAAS-SERVICES`` (jumped to from PREROUTING for pods, OUTPUT for the node):
  one rule per service port, clusterIP:port -> ``PAAS-SVC-<hash>``; last, a
  jump to ``PAAS-NODEPORTS`` for packets addressed to one of the node's own
  addresses. ``PAAS-SVC-<hash>`` picks an endpoint: first the affinity
  checks (``-m recent``, when sessionAffinity is ClientIP), then round robin
  with ``-m statistic --probability 1/n`` for n = remaining endpoints, the
  last one taken unconditionally. ``PAAS-SEP-<hash>`` DNATs to one endpoint
  (and records the client for affinity). Traffic that needs its source
  rewritten is marked in ``PAAS-MARK-MASQ`` and masqueraded in
  ``PAAS-POSTROUTING``: a pod reaching itself through its service (hairpin),
  NodePort traffic, and (given the cluster's pod range) clients outside it.

filter table
  ``PAAS-SERVICES`` (from INPUT, OUTPUT and FORWARD) rejects at once every
  service port with no ready endpoint: TCP with a reset, UDP with ICMP port
  unreachable, so a client is refused instead of left hanging; last, the
  same for any other address and port in the service range.

Chains of ours that are no longer wanted (``existing``) are flushed and
deleted in the same restore.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.api.objects import Obj
from orchestrator.netfilter.iptables import Jump

PREFIX = "PAAS-"
SERVICES_CHAIN = "PAAS-SERVICES"
NODEPORTS_CHAIN = "PAAS-NODEPORTS"
POSTROUTING_CHAIN = "PAAS-POSTROUTING"
MARK_MASQ_CHAIN = "PAAS-MARK-MASQ"
MASQ_MARK = "0x4000"
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds, Kubernetes' default for ClientIP affinity

NAT_CHAINS = (SERVICES_CHAIN, NODEPORTS_CHAIN, POSTROUTING_CHAIN, MARK_MASQ_CHAIN)
FILTER_CHAINS = (SERVICES_CHAIN,)


JUMPS = (
    Jump(
        "nat", "PREROUTING", ("-m", "comment", "--comment", "paas services", "-j", SERVICES_CHAIN)
    ),
    Jump("nat", "OUTPUT", ("-m", "comment", "--comment", "paas services", "-j", SERVICES_CHAIN)),
    Jump(
        "nat",
        "POSTROUTING",
        ("-m", "comment", "--comment", "paas postrouting", "-j", POSTROUTING_CHAIN),
    ),
    *(
        Jump(
            "filter",
            chain,
            (
                "-m",
                "conntrack",
                "--ctstate",
                "NEW",
                "-m",
                "comment",
                "--comment",
                "paas services",
                "-j",
                SERVICES_CHAIN,
            ),
        )
        for chain in ("INPUT", "OUTPUT", "FORWARD")
    ),
)


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service with the ready endpoints behind it."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # "TCP" or "UDP"
    cluster_ip: str
    port: int
    node_port: int = 0
    affinity_timeout: int = 0  # seconds; 0 = no session affinity
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port_name}/{self.protocol}"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16].upper()


def svc_chain(sp: ServicePort) -> str:
    return "PAAS-SVC-" + _hash(sp.key)


def sep_chain(sp: ServicePort, ep: Endpoint) -> str:
    return "PAAS-SEP-" + _hash(f"{sp.key}->{ep.ip}:{ep.port}")


def _affinity_timeout(service: Obj) -> int:
    spec = service.get("spec") or {}
    if spec.get("sessionAffinity") != "ClientIP":
        return 0
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)


def _ready_endpoints(endpoints: Obj | None, port_name: str, protocol: str) -> tuple[Endpoint, ...]:
    """Ready addresses paired with the Endpoints port of the same name and protocol."""
    found: list[Endpoint] = []
    for subset in (endpoints or {}).get("subsets") or []:
        for port in subset.get("ports") or []:
            if (port.get("name") or "") != port_name:
                continue
            if (port.get("protocol") or "TCP") != protocol:
                continue
            for address in subset.get("addresses") or []:
                found.append(Endpoint(address["ip"], int(port["port"])))
    return tuple(sorted(set(found), key=lambda e: (e.ip, e.port)))


def service_ports(services: Iterable[Obj], endpoints: Iterable[Obj]) -> list[ServicePort]:
    """Every port of every Service with a cluster IP, with its ready endpoints."""
    by_key = {(e["metadata"].get("namespace", ""), e["metadata"]["name"]): e for e in endpoints}
    result: list[ServicePort] = []
    for service in services:
        meta, spec = service["metadata"], service.get("spec") or {}
        cluster_ip = spec.get("clusterIP") or ""
        if not cluster_ip or cluster_ip == "None":
            continue  # headless: DNS names the pods, nothing to program
        namespace = meta.get("namespace", "")
        eps = by_key.get((namespace, meta["name"]))
        for port in spec.get("ports") or []:
            protocol = port.get("protocol") or "TCP"
            if protocol not in ("TCP", "UDP"):
                continue
            port_name = port.get("name") or ""
            result.append(
                ServicePort(
                    namespace=namespace,
                    name=meta["name"],
                    port_name=port_name,
                    protocol=protocol,
                    cluster_ip=cluster_ip,
                    port=int(port["port"]),
                    node_port=int(port.get("nodePort") or 0),
                    affinity_timeout=_affinity_timeout(service),
                    endpoints=_ready_endpoints(eps, port_name, protocol),
                )
            )
    return sorted(result, key=lambda sp: sp.key)


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _nat_lines(ports: list[ServicePort], cluster_cidr: str) -> tuple[list[str], list[str]]:
    """(chain names, rules) of the nat table."""
    chains = list(NAT_CHAINS)
    rules = [
        f"-A {MARK_MASQ_CHAIN} -j MARK --or-mark {MASQ_MARK}",
        f"-A {POSTROUTING_CHAIN} -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        f"-A {POSTROUTING_CHAIN} -j MARK --xor-mark {MASQ_MARK}",
        f"-A {POSTROUTING_CHAIN} {_comment('paas service traffic requiring SNAT')} -j MASQUERADE",
    ]
    for sp in ports:
        if not sp.endpoints:
            continue  # refused in the filter table
        proto = sp.protocol.lower()
        svc = svc_chain(sp)
        chains.append(svc)
        rules.append(
            f"-A {SERVICES_CHAIN} -d {sp.cluster_ip}/32 -p {proto} -m {proto} "
            f"--dport {sp.port} {_comment(sp.key + ' cluster IP')} -j {svc}"
        )
        if cluster_cidr:
            rules.append(
                f"-A {svc} ! -s {cluster_cidr} -d {sp.cluster_ip}/32 -p {proto} "
                f"-m {proto} --dport {sp.port} -j {MARK_MASQ_CHAIN}"
            )
        if sp.node_port:
            match = (
                f"-p {proto} -m {proto} --dport {sp.node_port} {_comment(sp.key + ' node port')}"
            )
            rules.append(f"-A {NODEPORTS_CHAIN} {match} -j {MARK_MASQ_CHAIN}")
            rules.append(f"-A {NODEPORTS_CHAIN} {match} -j {svc}")
        seps = [(ep, sep_chain(sp, ep)) for ep in sp.endpoints]
        if sp.affinity_timeout:
            for _, sep in seps:
                rules.append(
                    f"-A {svc} -m recent --name {sep} --mask 255.255.255.255 --rsource "
                    f"--rcheck --seconds {sp.affinity_timeout} --reap -j {sep}"
                )
        for i, (_, sep) in enumerate(seps):
            left = len(seps) - i
            if left > 1:
                rules.append(
                    f"-A {svc} -m statistic --mode random --probability {1 / left:.10f} -j {sep}"
                )
            else:
                rules.append(f"-A {svc} -j {sep}")
        for ep, sep in seps:
            chains.append(sep)
            rules.append(f"-A {sep} -s {ep.ip}/32 -j {MARK_MASQ_CHAIN}")  # hairpin
            record = (
                f"-m recent --name {sep} --mask 255.255.255.255 --rsource --set "
                if sp.affinity_timeout
                else ""
            )
            rules.append(
                f"-A {sep} -p {proto} {record}-m {proto} -j DNAT --to-destination {ep.ip}:{ep.port}"
            )
    rules.append(
        f"-A {SERVICES_CHAIN} -m addrtype --dst-type LOCAL "
        f"{_comment('paas node ports')} -j {NODEPORTS_CHAIN}"
    )
    return chains, rules


def _filter_lines(ports: list[ServicePort], service_cidr: str) -> tuple[list[str], list[str]]:
    chains = list(FILTER_CHAINS)
    rules: list[str] = []
    for sp in ports:
        if sp.endpoints:
            continue
        proto = sp.protocol.lower()
        reject = "tcp-reset" if sp.protocol == "TCP" else "icmp-port-unreachable"
        why = _comment(sp.key + " has no endpoints")
        rules.append(
            f"-A {SERVICES_CHAIN} -d {sp.cluster_ip}/32 -p {proto} -m {proto} --dport {sp.port} "
            f"{why} -j REJECT --reject-with {reject}"
        )
        if sp.node_port:
            rules.append(
                f"-A {SERVICES_CHAIN} -m addrtype --dst-type LOCAL -p {proto} -m {proto} "
                f"--dport {sp.node_port} {why} -j REJECT --reject-with {reject}"
            )
    if service_cidr:
        # Last: an address in the range that no rule above translated (a service created a
        # moment ago, before this sync, or none at all) is refused at once, instead of being
        # routed to the bridge and answered "No route to host" after ARP gives up (~3 s).
        why = _comment("paas no such service port")
        rules.append(
            f"-A {SERVICES_CHAIN} -d {service_cidr} -p tcp {why} -j REJECT --reject-with tcp-reset"
        )
        rules.append(
            f"-A {SERVICES_CHAIN} -d {service_cidr} {why} "
            "-j REJECT --reject-with icmp-port-unreachable"
        )
    return chains, rules


def _table(name: str, chains: list[str], rules: list[str], existing: Iterable[str]) -> list[str]:
    stale = sorted(set(existing) - set(chains))
    lines = [f"*{name}"]
    lines += [f":{chain} - [0:0]" for chain in [*chains, *stale]]  # declaring flushes
    lines += rules
    lines += [f"-X {chain}" for chain in stale]
    lines.append("COMMIT")
    return lines


def restore_text(
    ports: list[ServicePort],
    *,
    cluster_cidr: str = "",
    service_cidr: str = "",
    existing_nat: Iterable[str] = (),
    existing_filter: Iterable[str] = (),
) -> str:
    """The whole ``iptables-restore --noflush`` input for both tables.

    ``service_cidr`` (the cluster IP range) ends the filter chain with a
    refusal for every address and port in it that has no rule.
    """
    nat_chains, nat_rules = _nat_lines(ports, cluster_cidr)
    filter_chains, filter_rules = _filter_lines(ports, service_cidr)
    lines = _table("nat", nat_chains, nat_rules, existing_nat)
    lines += _table("filter", filter_chains, filter_rules, existing_filter)
    return "\n".join(lines) + "\n"


def cleanup_text(existing_nat: Iterable[str], existing_filter: Iterable[str]) -> str:
    """Restore input that flushes and deletes the given chains of ours."""
    lines: list[str] = []
    for table, chains in (("nat", existing_nat), ("filter", existing_filter)):
        ours = sorted(c for c in chains if c.startswith(PREFIX))
        if ours:
            lines += _table(table, [], [], ours)
    return "\n".join(lines) + "\n" if lines else ""


def chains_in(save_output: str) -> dict[str, list[str]]:
    """Our chains per table in ``iptables-save`` output."""
    result: dict[str, list[str]] = {}
    table = ""
    for line in save_output.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            result.setdefault(table, [])
        elif line.startswith(":" + PREFIX):
            result.setdefault(table, []).append(line[1:].split()[0])
    return result

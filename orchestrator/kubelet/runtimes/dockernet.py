"""The node's Docker network: a bridge of the project's own, and the firewall rules it needs.

Each node gets one user-defined bridge network, ``paas-<node>``, whose
subnet is the node's ``spec.podCIDR`` with the gateway (the bridge's own
address) at ``.1``; its Linux bridge is ``paasd-<hash>`` so that leftovers are
found by the prefix. A sandbox container on it gets its pod IP from the
engine's IPAM, inside that range.

Why rules at all: br_netfilter is on here and the engine sets the FORWARD
policy to DROP, and its isolation chains drop traffic between two of its
networks. Pod traffic that crosses bridges (another node's pods on the same
machine, the process runtime's bridge) would be dropped, so two ACCEPT rules
(``-d`` and ``-s`` the pod range) go into DOCKER-USER, the chain the engine
evaluates first and never rewrites (FORWARD when the engine manages no
iptables). Traffic from the host to a pod IP is local output, not forwarded,
and needs nothing. Every rule carries the comment ``paas docker <network>``
so that teardown finds exactly its own. Optionally a nat rule keeps traffic
to the cluster's pod range from being masqueraded by the engine's own
MASQUERADE rule, so pods see each other's real addresses.

Hairpin mode is turned on for the bridge's ports so that a pod reaching its
own service address (DNAT back to itself) gets its packets back.

Without root (or without iptables) the rules are skipped with one warning:
pods on one node still reach each other and the host reaches them.
"""

from __future__ import annotations

import ipaddress
import logging
import shlex
import shutil
import subprocess
from pathlib import Path

import docker
import docker.errors
import docker.types

from orchestrator.kubelet.runtimes.dockerspec import LABEL_NODE, gateway_of

log = logging.getLogger(__name__)
DOCKER_USER = "DOCKER-USER"


class NetworkError(Exception):
    """The node's network cannot be set up as asked; the message says why and what to do."""


def validate_cidr(cidr: str) -> str:
    """The pod CIDR in canonical form; ValueError naming the field when it is not a range."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise ValueError(f"spec.podCIDR {cidr!r} is not a network range: {exc}") from None
    if net.version != 4 or net.num_addresses < 4:
        raise ValueError(f"spec.podCIDR {cidr!r} must be an IPv4 range of at least 4 addresses")
    return str(net)


def ensure_network(api: docker.APIClient, node_name: str, name: str, bridge: str, cidr: str) -> str:
    """Create (or reuse) the node's network with ``cidr`` as subnet; return the subnet in use.

    An empty ``cidr`` lets the engine choose a range (no podCIDR assigned).
    A network of that name with another subnet is recreated when no running
    container uses it, and refused otherwise.
    """
    try:
        existing = api.inspect_network(name)
    except docker.errors.NotFound:
        existing = None
    if existing is not None:
        subnets = [c.get("Subnet", "") for c in (existing.get("IPAM") or {}).get("Config") or []]
        if subnets and (not cidr or cidr in subnets):
            return subnets[0]
        if existing.get("Containers"):
            raise NetworkError(
                f"docker network {name} has subnet {', '.join(subnets) or 'none'} but the node's "
                f"podCIDR is {cidr}, and containers still use it: stop this node's pods "
                "(or remove the network) and start again"
            )
        api.remove_network(existing["Id"])
    ipam = None
    if cidr:
        pool = docker.types.IPAMPool(subnet=cidr, gateway=gateway_of(cidr))
        ipam = docker.types.IPAMConfig(pool_configs=[pool])
    try:
        api.create_network(
            name,
            driver="bridge",
            options={"com.docker.network.bridge.name": bridge},
            ipam=ipam,
            labels={LABEL_NODE: node_name},
            check_duplicate=True,
        )
    except docker.errors.APIError as exc:
        raise NetworkError(
            f"cannot create docker network {name} with subnet {cidr or '(engine default)'}: "
            f"{exc.explanation or exc}"
        ) from exc
    info = api.inspect_network(name)
    return str(((info.get("IPAM") or {}).get("Config") or [{}])[0].get("Subnet", cidr))


def remove_network(api: docker.APIClient, name: str) -> None:
    try:
        api.remove_network(name)
    except docker.errors.NotFound:
        pass


def _comment(network: str) -> str:
    return f"paas docker {network}"


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True)


def iptables_usable() -> bool:
    return shutil.which("iptables") is not None and _iptables("-S", "FORWARD").returncode == 0


def _chain_exists(chain: str, table: str = "filter") -> bool:
    return _iptables("-t", table, "-S", chain).returncode == 0


def _ensure_rule(table: str, chain: str, rule: list[str]) -> None:
    if _iptables("-t", table, "-C", chain, *rule).returncode == 0:
        return
    done = _iptables("-t", table, "-I", chain, "1", *rule)
    if done.returncode != 0:
        raise NetworkError(f"iptables -t {table} -I {chain} {shlex.join(rule)}: {done.stderr}")


def ensure_rules(network: str, subnet: str, cluster_cidr: str = "") -> bool:
    """ACCEPT the pod range in DOCKER-USER (or FORWARD); False when iptables is not usable here."""
    if not iptables_usable():
        return False
    chain = DOCKER_USER if _chain_exists(DOCKER_USER) else "FORWARD"
    tag = ["-m", "comment", "--comment", _comment(network)]
    for match in (["-d", subnet], ["-s", subnet]):
        _ensure_rule("filter", chain, [*match, *tag, "-j", "ACCEPT"])
    if cluster_cidr:
        _ensure_rule("nat", "POSTROUTING", ["-s", subnet, "-d", cluster_cidr, *tag, "-j", "RETURN"])
    return True


def remove_rules(network: str) -> int:
    """Delete every rule tagged for ``network``; returns how many went."""
    if not iptables_usable():
        return 0
    removed = 0
    marker = _comment(network)
    for table, chain in (("filter", DOCKER_USER), ("filter", "FORWARD"), ("nat", "POSTROUTING")):
        listing = _iptables("-t", table, "-S", chain)
        for line in listing.stdout.splitlines():
            words = shlex.split(line)
            if len(words) < 2 or words[0] != "-A" or marker not in words:
                continue
            if _iptables("-t", table, "-D", *words[1:]).returncode == 0:
                removed += 1
    return removed


def set_hairpin(bridge: str, sysfs: Path = Path("/sys/class/net")) -> None:
    """Hairpin mode on every port of ``bridge`` (root only; quietly nothing otherwise)."""
    ports = sysfs / bridge / "brif"
    try:
        entries = list(ports.iterdir())
    except OSError:
        return
    for port in entries:
        flag = port / "hairpin_mode"
        try:
            if flag.read_text().strip() != "1":
                flag.write_text("1")
        except OSError as exc:
            log.debug("hairpin mode on %s: %s", port.name, exc)

"""Pod networking for both runtimes: a netns per pod (root) or a 127.x address (no root).

**Root mode.** One bridge per node, named ``paas`` + a hash of the node name
(at most 15 characters, the kernel's limit), holding ``.1`` of the node's pod
CIDR as the pods' gateway. Each pod gets a network namespace under
/run/netns (``ip netns``), named ``paas-<node hash>-<pod hash>``: made here
for the process runtime, or the namespace of the Docker runtime's sandbox
container (started with no network of the engine's) given that name with
``ip netns attach``. Then a veth pair: the host end (``paasv<hash>``) on the
bridge with hairpin mode on (a pod reaching itself through a service
address comes back through its own port), the pod end renamed ``eth0`` with
the pod IP and a default route via ``.1``; ``lo`` is up. Any neighbour entry
the host kept for the address (a pod that had it before, with another MAC)
is dropped first, so the first packets to the new pod do not go to the old
one's MAC. ``net.ipv4.ip_forward`` is turned on, and because br_netfilter is
on and Docker sets the FORWARD policy to DROP, two FORWARD ACCEPT rules (in
and out of the bridge) carry a comment ``paas:<bridge>`` so they can be
found and removed again.

**Loopback mode.** Pods share the node's network; each gets an address of
its own from a /24 in 127/8 derived from the node name (127.<100-199>.<x>.0),
so two nodes on one machine do not overlap; every Linux address in 127/8
already answers on ``lo``, so nothing is configured.

In both modes an address is handed out by the caller from the addresses its
sandboxes already hold (``allocate_ip``), so the allocation is as durable as
the sandbox records on disk. Leftovers are found by name: ``cleanup_node``
removes a node's netns, veths, bridge and rules, keeping the namespaces of
pods named in ``keep`` (pods still running, to be adopted).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.netfilter import iptables

PREFIX = "paas"
NETNS_DIR = Path("/run/netns")
SYS_NET = Path("/sys/class/net")  # the links of the netns this process runs in
IFNAMSIZ = 15  # the kernel's interface name limit (16 with the NUL)


class PodNetworkError(Exception):
    """A network step failed; the message names the command and what it printed."""


def _hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def bridge_name(node_name: str) -> str:
    """``paas`` + 11 hex digits of the node name's hash: 15 characters."""
    return PREFIX + _hash(node_name, IFNAMSIZ - len(PREFIX))


def netns_prefix(node_name: str) -> str:
    return f"{PREFIX}-{_hash(node_name, 8)}-"


def netns_name(node_name: str, pod_uid: str) -> str:
    return netns_prefix(node_name) + _hash(pod_uid, 12)


def veth_name(node_name: str, pod_uid: str) -> str:
    """Host end of the pod's veth: ``paasv`` + 10 hex digits of (node, pod)."""
    return PREFIX + "v" + _hash(node_name + "/" + pod_uid, IFNAMSIZ - len(PREFIX) - 1)


def loopback_range(node_name: str) -> ipaddress.IPv4Network:
    """The node's /24 in 127/8: 127.<100-199>.<0-255>.0, clear of 127.0/16 and 127.10/16."""
    digest = hashlib.sha256(node_name.encode()).digest()
    return ipaddress.IPv4Network(f"127.{100 + digest[0] % 100}.{digest[1]}.0/24")


def allocate_ip(network: ipaddress.IPv4Network, used: Iterable[str]) -> str:
    """The lowest free host address of ``network`` past ``.1`` (the gateway in root mode)."""
    taken = set(used)
    hosts = list(network.hosts())
    for address in hosts[1:]:
        if str(address) not in taken:
            return str(address)
    raise PodNetworkError(f"no free pod address left in {network} ({len(taken)} in use)")


@dataclass(frozen=True)
class PodAttachment:
    """Where a pod's processes find their network: a netns path, or "" for the node's own."""

    netns: str
    ip: str


class LoopbackNetwork:
    """No root: every pod on the node's network with an address of its own in 127/8."""

    mode = "loopback"

    def __init__(self, node_name: str, network: str = "") -> None:
        self.node_name = node_name
        self.range = ipaddress.IPv4Network(network) if network else loopback_range(node_name)

    def setup(self, pod_cidr: str, keep: Iterable[str] = ()) -> None:
        """Nothing to prepare: 127/8 answers on lo already."""

    def attach(self, pod_uid: str, ip: str) -> PodAttachment:
        return PodAttachment("", ip)

    def healthy(self, pod_uid: str) -> bool:
        return True

    def detach(self, pod_uid: str) -> None:
        """Nothing to undo."""

    def pool(self) -> ipaddress.IPv4Network:
        return self.range


def run(
    argv: list[str], *, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an ip/iptables/sysctl command; PodNetworkError naming it when it fails."""
    return iptables.run(argv, stdin=stdin or "", check=check, error=PodNetworkError)


def run_batch(commands: list[str], netns: str = "") -> None:
    """Several ``ip`` commands in one run of ``ip -batch`` (inside ``netns`` if given): one
    fork and exec instead of one each. It stops at the first command that fails."""
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    run(argv, stdin="\n".join(commands) + "\n")


def _link_exists(name: str, netns: str = "") -> bool:
    argv = ["ip", "-o", "link", "show", "dev", name]
    if netns:
        argv = ["ip", "-n", netns, *argv[1:]]
    return run(argv, check=False).returncode == 0


class BridgeNetwork:
    """Root: a bridge per node, a netns + veth per pod, addresses from the pod CIDR."""

    mode = "root"

    def __init__(self, node_name: str) -> None:
        self.node_name = node_name
        self.bridge = bridge_name(node_name)
        self.cidr: ipaddress.IPv4Network | None = None

    def pool(self) -> ipaddress.IPv4Network:
        if self.cidr is None:
            raise PodNetworkError(
                "the pod network is not set up: the node has no spec.podCIDR yet "
                "(call start() again with it)"
            )
        return self.cidr

    def setup(self, pod_cidr: str, keep: Iterable[str] = ()) -> None:
        """Bridge with the gateway address, forwarding, FORWARD rules; drop leftover netns.

        Without a pod CIDR (the node has none assigned yet) nothing is touched,
        and sandboxes cannot be made until ``setup`` is called again with one.
        """
        if not pod_cidr:
            return
        self.cidr = ipaddress.IPv4Network(pod_cidr, strict=False)
        keep_names = {netns_name(self.node_name, uid) for uid in keep}
        for name in node_netns(self.node_name):
            if name not in keep_names:
                with contextlib.suppress(PodNetworkError):
                    run(["ip", "netns", "delete", name])
        gateway = f"{next(self.cidr.hosts())}/{self.cidr.prefixlen}"
        if not _link_exists(self.bridge):
            run(["ip", "link", "add", self.bridge, "type", "bridge"])
        addrs = run(["ip", "-o", "-4", "addr", "show", "dev", self.bridge]).stdout
        if f" {gateway} " not in addrs:
            run(["ip", "addr", "flush", "dev", self.bridge])
            run(["ip", "addr", "add", gateway, "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
        for rule in self._forward_rules():
            if run(["iptables", "-w", "-C", "FORWARD", *rule], check=False).returncode != 0:
                run(["iptables", "-w", "-I", "FORWARD", "1", *rule])

    def _forward_rules(self) -> list[list[str]]:
        comment = ["-m", "comment", "--comment", f"{PREFIX}:{self.bridge}"]
        return [
            ["-i", self.bridge, *comment, "-j", "ACCEPT"],
            ["-o", self.bridge, *comment, "-j", "ACCEPT"],
        ]

    def attach(self, pod_uid: str, ip: str, pid: int = 0) -> PodAttachment:
        """Create (or complete) the pod's netns and veth; idempotent.

        With ``pid``, the namespace is that process's (a Docker sandbox's) rather
        than a new one; a name left pointing at an earlier process's is replaced.

        A new pod takes three runs of ``ip`` (the namespace, a look for its
        eth0, then the host's side and the pod's side as one batch each)
        rather than fourteen: every run is a fork and exec of 5-10 ms here,
        more under load, and the pod's start waits on them (bench.pods).
        """
        cidr = self.pool()
        ns = netns_name(self.node_name, pod_uid)
        host_end = veth_name(self.node_name, pod_uid)
        peer = "paastmp" + _hash(pod_uid, 8)
        if pid:
            _name_netns_of(ns, pid)
        elif not (NETNS_DIR / ns).exists():
            run(["ip", "netns", "add", ns])
        if not _link_exists("eth0", ns):
            # The agent runs in the node's own netns, so its /sys/class/net lists the node's links.
            if (SYS_NET / host_end).exists():  # a half-made pair from an earlier try
                with contextlib.suppress(PodNetworkError):
                    run(["ip", "link", "delete", host_end])
            run_batch(
                [
                    # A neighbour entry the host kept for the address (an earlier pod's MAC);
                    # a flush, unlike a delete, does not fail the batch when there is none.
                    f"neigh flush to {ip} dev {self.bridge} nud all",
                    f"link add {host_end} type veth peer name {peer}",
                    f"link set {peer} netns {ns}",
                    f"link set {host_end} master {self.bridge}",
                    f"link set {host_end} up",
                    f"link set dev {host_end} type bridge_slave hairpin on",
                ]
            )
            run_batch(
                [
                    f"link set {peer} name eth0",
                    f"addr add {ip}/{cidr.prefixlen} dev eth0",
                    "link set eth0 up",
                    "link set lo up",
                    f"route add default via {next(cidr.hosts())}",
                ],
                netns=ns,
            )
        return PodAttachment(str(NETNS_DIR / ns), ip)

    def healthy(self, pod_uid: str) -> bool:
        return (NETNS_DIR / netns_name(self.node_name, pod_uid)).exists()

    def detach(self, pod_uid: str) -> None:
        """Delete the pod's netns (its veth goes with it); nothing if already gone."""
        ns = netns_name(self.node_name, pod_uid)
        if (NETNS_DIR / ns).exists():
            run(["ip", "netns", "delete", ns])
        with contextlib.suppress(PodNetworkError):
            if _link_exists(veth_name(self.node_name, pod_uid)):
                run(["ip", "link", "delete", veth_name(self.node_name, pod_uid)])


def _name_netns_of(name: str, pid: int) -> None:
    """/run/netns/<name> for the network namespace of process ``pid`` (``ip netns attach``)."""
    path = NETNS_DIR / name
    target = Path(f"/proc/{pid}/ns/net")
    try:
        wanted = target.stat().st_ino
    except OSError as exc:
        raise PodNetworkError(f"the sandbox process {pid} is gone: {exc}") from exc
    if path.exists():
        if path.stat().st_ino == wanted:
            return
        run(["ip", "netns", "delete", name])  # an earlier sandbox's namespace
    run(["ip", "netns", "attach", name, str(pid)])


def node_netns(node_name: str) -> list[str]:
    prefix = netns_prefix(node_name)
    if not NETNS_DIR.is_dir():
        return []
    return sorted(name for name in os.listdir(NETNS_DIR) if name.startswith(prefix))


def cleanup_node(node_name: str) -> None:
    """Remove everything of the node's pod network: netns, veths, bridge, FORWARD rules."""
    for name in node_netns(node_name):
        with contextlib.suppress(PodNetworkError):
            run(["ip", "netns", "delete", name])
    bridge = bridge_name(node_name)
    if _link_exists(bridge):
        links = run(["ip", "-o", "link", "show", "master", bridge], check=False).stdout
        for line in links.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            with contextlib.suppress(PodNetworkError):
                run(["ip", "link", "delete", name])
        with contextlib.suppress(PodNetworkError):
            run(["ip", "link", "delete", bridge])
    remove_forward_rules(f"{PREFIX}:{bridge}")


def remove_forward_rules(comment: str) -> None:
    """Delete every FORWARD rule whose comment is exactly ``comment``."""
    if shutil.which("iptables") is None:
        return  # no rule of ours can be there: nothing here could have added one
    listing = run(["iptables", "-w", "-S", "FORWARD"], check=False).stdout
    for line in listing.splitlines():
        if f'--comment "{comment}"' in line or f"--comment {comment} " in line + " ":
            spec = line.split()[2:]  # drop "-A FORWARD"
            spec = [part.strip('"') for part in spec]
            run(["iptables", "-w", "-D", "FORWARD", *spec], check=False)

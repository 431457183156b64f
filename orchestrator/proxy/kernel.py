"""The kernel side of the proxy: iptables-restore, the fixed jumps, the service route.

Only chains named ``PAAS-*`` and the exact jump rules of ``rules.JUMPS``
are ever touched, so other users of the tables (Docker, the node agent's
FORWARD rules) are left alone. ``KernelError`` names the command and what it
printed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from orchestrator.proxy import rules

ROUTE_LOCALNET = Path("/proc/sys/net/ipv4/conf/all/route_localnet")


class KernelError(Exception):
    """An iptables/ip command failed."""


def have_iptables() -> bool:
    """Whether iptables is installed: without it no rule of ours can exist to remove."""
    return all(shutil.which(tool) for tool in ("iptables", "iptables-save", "iptables-restore"))


def run(
    argv: list[str], *, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError(f"{' '.join(argv)}: {exc}") from exc
    if check and done.returncode != 0:
        raise KernelError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def saved_chains() -> dict[str, list[str]]:
    """Our chains per table, as the kernel has them now."""
    found: dict[str, list[str]] = {}
    for table in ("nat", "filter"):
        out = run(["iptables-save", "-t", table]).stdout
        found[table] = rules.chains_in(out).get(table, [])
    return found


def restore(text: str) -> None:
    """Apply restore text atomically, leaving every chain not named in it alone."""
    run(["iptables-restore", "-w", "--noflush"], stdin=text)


def ensure_jumps(jumps: Iterable[rules.Jump] = rules.JUMPS) -> None:
    """Insert each fixed jump at the head of its built-in chain unless it is there."""
    for jump in jumps:
        base = ["iptables", "-w", "-t", jump.table]
        if run([*base, "-C", jump.chain, *jump.args], check=False).returncode != 0:
            run([*base, "-I", jump.chain, "1", *jump.args])


def remove_jumps(jumps: Iterable[rules.Jump] = rules.JUMPS) -> None:
    if not have_iptables():
        return
    for jump in jumps:
        base = ["iptables", "-w", "-t", jump.table]
        while run([*base, "-D", jump.chain, *jump.args], check=False).returncode == 0:
            pass


def remove_all() -> None:
    """Every rule of ours: the jumps first, then every PAAS- chain (leftovers included)."""
    if not have_iptables():
        return
    remove_jumps()
    found = saved_chains()
    text = rules.cleanup_text(found.get("nat", []), found.get("filter", []))
    if text:
        restore(text)


def route_service_range(cidr: str, bridge: str) -> bool:
    """Route the service range to the node bridge; False while the bridge does not exist.

    Until the node agent has made its bridge (it needs the node's pod CIDR
    first) the range is routed to ``lo``: with no route of its own, an
    address in it would follow the default route off the machine. Through
    ``lo`` the host's DNAT still applies (kube-dns and the API server have
    127.0.0.1 endpoints) and the rest is dropped on the machine. A route
    that is there already (another node's bridge) is left alone.
    """
    if run(["ip", "-o", "link", "show", "dev", bridge], check=False).returncode != 0:
        run(["ip", "route", "add", cidr, "dev", "lo"], check=False)  # "File exists": leave it
        return False
    run(["ip", "route", "replace", cidr, "dev", bridge])
    return True


def unroute_service_range(cidr: str, bridge: str) -> None:
    for dev in (bridge, "lo"):
        run(["ip", "route", "del", cidr, "dev", dev], check=False)


def allow_localhost_nodeports() -> None:
    """route_localnet=1, as kube-proxy sets it: 127.0.0.1:<nodePort> may be DNATed to a pod.

    Without it the kernel drops a packet from 127/8 routed out of lo; the
    NodePort rules mark it for MASQUERADE, so the pod sees the bridge address.
    """
    try:
        if ROUTE_LOCALNET.read_text().strip() != "1":
            ROUTE_LOCALNET.write_text("1\n")
    except OSError as exc:
        raise KernelError(f"setting {ROUTE_LOCALNET} to 1: {exc}") from exc

"""The kernel side of the proxy: its chains as the kernel has them, their removal, the route.

Rules go in through ``orchestrator.netfilter`` (an atomic restore, the fixed
jumps of ``rules.JUMPS``); what is the proxy's own is here: which ``PAAS-*``
chains exist now (so a sync deletes stale ones in the same restore),
removing every rule of the proxy, and routing the service range. Only
chains named ``PAAS-*`` and the exact jump rules of ``rules.JUMPS`` are ever
touched, so other users of the tables (Docker, the node agent's FORWARD
and hostPort rules) are left alone. A failure is the plumbing's
``KernelError``, naming the command and what it printed.
"""

from __future__ import annotations

from orchestrator.netfilter.iptables import have_iptables, remove_jumps, restore, run
from orchestrator.proxy import rules


def saved_chains() -> dict[str, list[str]]:
    """Our chains per table, as the kernel has them now."""
    found: dict[str, list[str]] = {}
    for table in ("nat", "filter"):
        out = run(["iptables-save", "-t", table]).stdout
        found[table] = rules.chains_in(out).get(table, [])
    return found


def remove_all() -> None:
    """Every rule of ours: the jumps first, then every PAAS- chain (leftovers included)."""
    if not have_iptables():
        return
    remove_jumps(rules.JUMPS)
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

"""What earlier versions of the Docker runtime left on a machine, removed when a node starts.

Pods used to sit on a Docker bridge network per node, ``paas-<node>``, with
ACCEPT rules in DOCKER-USER (or FORWARD) and a nat RETURN rule, each
commented ``paas docker <network>``. Pods are now wired by the node itself
(``podnet``; see ``runtimes.docker`` for why), so ``remove_legacy`` takes
that network away once no container uses it, and its rules with it.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
import subprocess

import docker
import docker.errors

from orchestrator.kubelet.runtimes.dockerspec import legacy_network_name

log = logging.getLogger(__name__)


def remove_legacy(api: docker.APIClient, node_name: str) -> None:
    """The node's old Docker network and rules (nothing when there are none)."""
    name = legacy_network_name(node_name)
    try:
        info = api.inspect_network(name)
    except docker.errors.NotFound:
        info = None
    if info is not None:
        if info.get("Containers"):
            log.warning("docker network %s is still in use; it stays until its pods go", name)
            return
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_network(info["Id"])
    remove_rules(name)


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True)


def remove_rules(network: str) -> int:
    """Delete every rule tagged for ``network``; returns how many went."""
    if shutil.which("iptables") is None:
        return 0
    removed = 0
    marker = f"paas docker {network}"
    for table, chain in (("filter", "DOCKER-USER"), ("filter", "FORWARD"), ("nat", "POSTROUTING")):
        for line in _iptables("-t", table, "-S", chain).stdout.splitlines():
            words = shlex.split(line)
            if len(words) < 2 or words[0] != "-A" or marker not in words:
                continue
            if _iptables("-t", table, "-D", *words[1:]).returncode == 0:
                removed += 1
    return removed

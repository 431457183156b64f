"""What ``paas up`` and ``paas node`` need from the machine, checked before anything starts.

Root network mode programs the kernel: network namespaces, veth pairs and a
bridge per node (iproute2's ``ip``), DNAT and filter rules for Services and
host ports (``iptables``, ``iptables-save``, ``iptables-restore``), and the
removal of UDP flows to endpoints that went (``conntrack``); all of it needs
root. The Docker runtime needs an engine that answers, and its pods exist
only in root mode (the node wires each sandbox's network namespace to its
bridge, as for the process runtime). Loopback mode needs nothing outside
Python.

``plan`` turns what was asked into what will run:

- ``--network auto`` is root mode only as root with every tool of root mode
  on PATH; otherwise loopback, with one note saying why and, where tools are
  missing, which Debian packages would enable root mode;
- ``--runtime auto`` is Docker only where an engine answers and root mode
  can run; otherwise the process runtime, with a note when an engine was
  passed over;
- a mode or runtime named explicitly that cannot work is refused at once
  (``PreflightError``, exit 2) naming the missing tool and its package:
  nothing has started, so there is nothing to undo. kubeadm's preflight
  refuses a node the same way ("conntrack not found in system path").

``plan`` is a pure function of the request and a ``Machine`` (what was
found), so its tests are tables of machines; ``Machine.probe`` does the
looking.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

NETWORK_MODES = ("auto", "root", "loopback")
RUNTIMES = ("auto", "process", "docker", "simulated")


@dataclass(frozen=True)
class Tool:
    command: str
    package: str  # the Debian package that has it
    use: str  # what root mode does with it


ROOT_MODE_TOOLS = (
    Tool("ip", "iproute2", "pod network namespaces, veth pairs and the node bridge"),
    Tool("iptables", "iptables", "Service, host port and forwarding rules"),
    Tool("iptables-save", "iptables", "reading the rules back"),
    Tool("iptables-restore", "iptables", "replacing the Service rules atomically"),
    Tool("conntrack", "conntrack", "dropping UDP flows to endpoints that went"),
)


class PreflightError(Exception):
    """What was asked cannot run on this machine; the message says what is missing."""


@dataclass(frozen=True)
class Machine:
    """What ``plan`` needs to know of this machine."""

    root: bool
    found: frozenset[str]  # the commands of ROOT_MODE_TOOLS that are on PATH
    docker: bool  # a Docker engine answers
    docker_url: str = "unix:///var/run/docker.sock"

    @classmethod
    def probe(
        cls,
        *,
        docker: Callable[[], bool],
        docker_url: str,
        which: Callable[[str], str | None] = shutil.which,
    ) -> Machine:
        """Look: the effective user, the tools on PATH and (only when asked) the engine."""
        found = frozenset(t.command for t in ROOT_MODE_TOOLS if which(t.command))
        return cls(root=os.geteuid() == 0, found=found, docker=docker(), docker_url=docker_url)

    def missing(self) -> list[Tool]:
        return [t for t in ROOT_MODE_TOOLS if t.command not in self.found]


@dataclass(frozen=True)
class Plan:
    runtime: str  # process, docker or simulated
    network: str  # root or loopback
    notes: tuple[str, ...] = ()  # one line each: why a choice went the way it did


def missing_tools_text(missing: list[Tool]) -> str:
    """``iptables, iptables-save (package iptables); conntrack (package conntrack) not found``."""
    by_package: dict[str, list[str]] = {}
    for tool in missing:
        by_package.setdefault(tool.package, []).append(tool.command)
    named = "; ".join(f"{', '.join(cmds)} (package {pkg})" for pkg, cmds in by_package.items())
    return f"{named} not found"


def install_hint(missing: list[Tool]) -> str:
    packages = sorted({t.package for t in missing})
    return "apt-get install " + " ".join(packages)


def root_mode_gap(machine: Machine) -> str:
    """Why root mode cannot run here ("" when it can)."""
    if not machine.root:
        return "not running as root"
    missing = machine.missing()
    if missing:
        return f"{missing_tools_text(missing)}; `{install_hint(missing)}` enables it"
    return ""


def plan(runtime: str, network: str, machine: Machine) -> Plan:
    """The runtime and network mode to run, or ``PreflightError`` saying what is missing."""
    if runtime not in RUNTIMES:
        raise PreflightError(f"--runtime {runtime}: not one of {', '.join(RUNTIMES)}")
    if network not in NETWORK_MODES:
        raise PreflightError(f"--network {network}: not one of {', '.join(NETWORK_MODES)}")
    if runtime == "simulated":  # nothing touches the kernel; the mode only picks the ranges
        chosen = network if network != "auto" else ("root" if machine.root else "loopback")
        return Plan("simulated", chosen)
    gap = root_mode_gap(machine)
    if runtime == "docker" and network == "loopback":
        raise PreflightError(
            "--network loopback is for the process runtime; Docker pods have network "
            "namespaces of their own (root mode)"
        )
    if runtime == "docker" and not machine.docker:
        raise PreflightError(
            f"--runtime docker: no Docker engine answers at {machine.docker_url}; start one "
            "(dockerd, package docker.io) or use --runtime process"
        )
    notes: list[str] = []
    passed_over = False  # an engine answered, but Docker pods need root mode
    if runtime == "auto":
        runtime = "process"
        if machine.docker and network == "loopback":
            notes.append("runtime: process, not Docker: Docker pods need root mode")
        elif machine.docker and gap:
            passed_over = True
        elif machine.docker:
            runtime = "docker"
    if runtime == "docker":
        return _docker_network(gap, machine)
    if network == "root" and gap:
        raise PreflightError(f"--network root cannot run here: {gap}")
    if network == "auto":
        network = "loopback" if gap else "root"
        if gap and passed_over:
            notes.append(
                "network: loopback mode on the process runtime: root mode, which Docker pods "
                f"need too, cannot run: {gap}"
            )
        elif gap:
            notes.append(f"network: loopback mode: root mode cannot run: {gap}")
    return Plan(runtime, network, tuple(notes))


def _docker_network(gap: str, machine: Machine) -> Plan:
    """Docker pods are wired to the node's bridge by the node itself: root mode, always."""
    if gap:
        raise PreflightError(f"--runtime docker needs root mode, which cannot run here: {gap}")
    return Plan("docker", "root")

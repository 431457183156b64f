"""The process runtime's knobs: one frozen dataclass, each field with its reason.

A module of its own because every part of the runtime reads it (sandboxes,
containers, exec and logs) and none of them should import the class that
composes them to get at it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# the PATH of apps and supervisors when the node agent itself has none
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ProcessRuntimeSettings:
    """Knobs of the process runtime; tests shorten the timers."""

    # "root": netns + bridge (needs root); "loopback": a 127.x address per pod; "auto": by euid
    network: Literal["auto", "root", "loopback"] = "auto"
    # cgroup limits and PID/mount/UTS namespaces, used only as root ("off" runs without them)
    isolation: Literal["auto", "off"] = "auto"
    log_max_bytes: int = 10 * 1024 * 1024  # kubelet's containerLogMaxSize
    log_max_files: int = 5  # kubelet's containerLogMaxFiles (the current file included)
    exit_poll_interval: float = 1.0  # only where pidfds are missing
    log_follow_interval: float = 0.1  # how often a followed log file is looked at
    python: str = sys.executable  # the interpreter running the supervisors
    slug_dir: Path | None = None  # where builder slugs are unpacked (sha256-<hex>/)
    slug_source: str = ""  # the builder's URL slugs are fetched from ("" = never fetch)
    slug_fetch_timeout: float = 60.0  # per read: a stalled builder fails the pull, which retries
    slug_max_bytes: int = 2 << 30  # twice the builder's slug limit: a bound on a bad server
    start_timeout: float = 20.0  # how long a supervisor may take to report its app started
    exec_output_limit: int = 64 * 1024  # bytes of an exec's output kept
    node_ip: str = "127.0.0.1"  # the IP of hostNetwork pods
    loopback_network: str = ""  # "" = a /24 in 127/8 derived from the node name
    cgroup_parent: str = "paas"  # our subtree in each cgroup hierarchy
    cpu_period_us: int = 100_000  # the CFS period the CPU quota is a share of

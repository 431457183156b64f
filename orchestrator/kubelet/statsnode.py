"""The node's own CPU and memory, from /proc, as the kubelet reports the node.

The kubelet reads the node from the root cgroup; /proc says the same for
the whole machine and needs no root: CPU time is the sum of the busy
columns of ``/proc/stat``'s ``cpu`` line (user, nice, system, irq,
softirq, steal; guest time is already inside user), in clock ticks;
memory is ``/proc/meminfo``: usage = MemTotal - MemFree, working set =
usage - Inactive(file) (cAdvisor's rule: the page cache the kernel can
drop at once is not "used"), available = MemAvailable, RSS = AnonPages.
The node's start time is the boot time (``btime``).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.kubelet.runtimes.base import ResourceUsage

_BUSY = (0, 1, 2, 5, 6, 7)  # user nice system [idle iowait] irq softirq steal
TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def parse_proc_stat(text: str) -> tuple[int, int]:
    """(busy CPU nanoseconds of all CPUs, boot time in seconds) from /proc/stat."""
    busy, boot = 0, 0
    for line in text.splitlines():
        if line.startswith("cpu "):
            ticks = [int(v) for v in line.split()[1:]]
            busy = sum(ticks[i] for i in _BUSY if i < len(ticks)) * TICK_NS
        elif line.startswith("btime "):
            boot = int(line.split()[1])
    return busy, boot


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo's fields in bytes."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields:
            out[name] = int(fields[0]) * (1024 if len(fields) > 1 else 1)
    return out


def node_memory(meminfo: dict[str, int]) -> tuple[int, int, int, int]:
    """(usage, working set, available, rss) bytes of the machine."""
    usage = meminfo.get("MemTotal", 0) - meminfo.get("MemFree", 0)
    working_set = max(0, usage - meminfo.get("Inactive(file)", 0))
    return usage, working_set, meminfo.get("MemAvailable", 0), meminfo.get("AnonPages", 0)


def read_node_usage(proc: Path = Path("/proc")) -> tuple[ResourceUsage, datetime, int]:
    """(a reading of the node, its boot time, its memory capacity in bytes)."""
    now = time.time_ns()
    busy, boot = parse_proc_stat((proc / "stat").read_text())
    meminfo = parse_meminfo((proc / "meminfo").read_text())
    usage, working_set, _available, rss = node_memory(meminfo)
    reading = ResourceUsage(
        time_ns=now,
        cpu_ns=busy,
        memory_working_set=working_set,
        memory_usage=usage,
        memory_rss=rss,
    )
    return reading, datetime.fromtimestamp(boot, UTC), meminfo.get("MemTotal", 0)

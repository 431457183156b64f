"""CPU and memory of the process runtime's containers: from their cgroups, else from /proc.

With cgroups (root), as cAdvisor reads them:

- v1: CPU ``cpuacct.usage`` (nanoseconds) in the container's cpuacct cgroup;
  memory ``memory.usage_in_bytes``, working set = usage minus
  ``total_inactive_file`` of ``memory.stat``, RSS ``total_rss``;
- v2: CPU ``usage_usec`` of ``cpu.stat``; memory ``memory.current``,
  working set = current minus ``inactive_file``, RSS ``anon``.

The files are found by name among the container's cgroup dirs (recorded in
its ``spec.json``), so v1 and v2 need no flag here, and a container started
before its node had a cpuacct cgroup simply has no CPU figure.

Without cgroups (no root, or isolation off) the container is its process
group: one scan of /proc per pass sums ``utime + stime`` (plus the
children the group leader has waited for, ``cutime + cstime``) and the
resident set of every process in the group. That is honest for what it
covers, and the runtime says once, in the node's limitations Event, what
it does not: processes that leave the group, and page cache, which has no
owner outside a cgroup (the working set is the RSS).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.kubelet.runtimes.base import ContainerUsage, ResourceUsage
from orchestrator.kubelet.runtimes.processlayout import Layout, alive, read_json

PROC = Path("/proc")
TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PROC_LIMITATION = (
    "per-container accounting of CPU and memory use (without cgroups it is measured per "
    "process group from /proc: processes that leave a container's group are not counted, "
    "and memory is the resident set)"
)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def cgroup_usage(dirs: list[str], now_ns: int) -> ResourceUsage:
    """A reading of one container from its cgroup dirs (v1 or v2, found by file name)."""
    cpu_ns: int | None = None
    usage = working_set = rss = None
    for name in dirs:
        d = Path(name)
        if (d / "cpuacct.usage").exists():
            cpu_ns = _read_int(d / "cpuacct.usage")
        elif (d / "cpu.stat").exists() and cpu_ns is None:
            usec = _keyed(d / "cpu.stat").get("usage_usec")
            cpu_ns = usec * 1000 if usec is not None else None
        if (d / "memory.usage_in_bytes").exists():
            usage = _read_int(d / "memory.usage_in_bytes")
            stat = _keyed(d / "memory.stat")
            inactive, rss = stat.get("total_inactive_file", 0), stat.get("total_rss")
        elif (d / "memory.current").exists():
            usage = _read_int(d / "memory.current")
            stat = _keyed(d / "memory.stat")
            inactive, rss = stat.get("inactive_file", 0), stat.get("anon")
        else:
            continue
        if usage is not None:
            working_set = max(0, usage - inactive)
    return ResourceUsage(now_ns, cpu_ns, working_set, usage, rss)


@dataclass(frozen=True)
class ProcEntry:
    pgid: int
    cpu_ns: int  # utime + stime + cutime + cstime
    rss: int  # bytes


def scan_proc(proc: Path = PROC) -> dict[int, ProcEntry]:
    """pid -> (process group, CPU time, RSS) of every process now, from /proc/PID/stat."""
    found: dict[int, ProcEntry] = {}
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue  # ended between the listing and the read
        fields = raw[raw.rfind(b")") + 2 :].split()  # after "pid (comm)": state is field 3
        try:
            pgid = int(fields[2])
            ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            rss = int(fields[21]) * PAGE
        except (IndexError, ValueError):
            continue
        found[int(entry.name)] = ProcEntry(pgid, ticks * TICK_NS, rss)
    return found


def group_usage(
    procs: dict[int, ProcEntry], pid: int, pgid: int | None, now_ns: int
) -> ResourceUsage:
    """A reading of the container whose first process is ``pid`` (its group ``pgid``)."""
    members = [e for p, e in procs.items() if p == pid or (pgid and e.pgid == pgid)]
    cpu = sum(e.cpu_ns for e in members)
    rss = sum(e.rss for e in members)
    return ResourceUsage(now_ns, cpu, rss, rss, rss)


def _started(ns: object) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, UTC) if isinstance(ns, int) else None


def read_stats(layout: Layout) -> list[ContainerUsage]:
    """A reading of every running container under ``layout`` (blocking: run in a thread)."""
    out: list[ContainerUsage] = []
    procs: dict[int, ProcEntry] | None = None
    for pod_dir in layout.pod_dirs():
        sandbox = read_json(pod_dir / "sandbox.json")
        cdirs = pod_dir / "containers"
        if sandbox is None or not cdirs.is_dir():
            continue
        for cdir in sorted(cdirs.iterdir()):
            pid_info = read_json(cdir / "pid.json")
            if pid_info is None or (cdir / "exit.json").exists():
                continue
            if not alive(pid_info.get("pid"), pid_info.get("pid_start")):
                continue
            launch = read_json(cdir / "spec.json") or {}
            now = time.time_ns()
            if launch.get("cgroup_dirs"):
                usage = cgroup_usage(list(launch["cgroup_dirs"]), now)
            else:
                procs = procs if procs is not None else scan_proc()
                usage = group_usage(procs, int(pid_info["pid"]), pid_info.get("pgid"), now)
            out.append(
                ContainerUsage(
                    container_id=str(launch.get("id", "")),
                    pod_uid=str(sandbox.get("pod_uid", "")),
                    namespace=str(sandbox.get("namespace", "")),
                    pod_name=str(sandbox.get("name", "")),
                    name=str(launch.get("name", "")),
                    started_at=_started(pid_info.get("started_ns")),
                    usage=usage,
                )
            )
    return out

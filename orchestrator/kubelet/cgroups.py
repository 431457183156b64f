"""A cgroup per container: memory limit, CPU quota, OOM-kill count, kill-all, removal.

One small interface (``Cgroups``) with two implementations, chosen by what is
mounted (``detect``):

- **v1** (this machine): one hierarchy per controller, ``/sys/fs/cgroup/memory``
  and ``/sys/fs/cgroup/cpu`` (or a joint ``cpu,cpuacct``). A container gets
  ``<own>/paas/<node>/<pod>/<container>`` in each, where ``<own>`` is the
  cgroup the node agent itself runs in for that controller: the containers
  stay inside whatever limits the agent was given (a delegated subtree).
  Memory: ``memory.limit_in_bytes`` (and the memory+swap limit to the same,
  where swap accounting exists); OOM kills counted in ``memory.oom_control``
  (``oom_kill N``). CPU: ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``.
  Where ``cpuacct`` is a hierarchy of its own (this machine), the container
  gets a cgroup there too, so that its CPU time can be read
  (``cpuacct.usage``, see ``runtimes/processstats``).
- **v2** (laptops): one tree; ``/sys/fs/cgroup/paas/<node>/<pod>/<container>``
  under the root (the "no internal processes" rule forbids enabling
  controllers below a cgroup that holds processes, like the agent's own), with
  ``+memory +cpu`` enabled in ``cgroup.subtree_control`` down the path.
  ``memory.max`` (and ``memory.swap.max`` 0), ``cpu.max``; OOM kills in
  ``memory.events`` (``oom_kill N``); ``cgroup.kill`` where the kernel has it.

The supervisor joins a container's cgroups before exec by writing to the
``procs_files`` and reads the ``oom_files`` when the container ends; both are
plain paths so that it needs nothing of this module. ``detect`` returns None
when no usable hierarchy is writable (not root, a read-only /sys/fs/cgroup):
the runtime then runs without limits and says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.kubelet.runtimes.base import Limits

CGROUP_ROOT = Path("/sys/fs/cgroup")
MIN_QUOTA_US = 1000  # the kernel refuses CFS quotas below 1 ms
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class CgroupError(Exception):
    """A cgroup could not be made or limited; the message names the file."""


@dataclass(frozen=True)
class CgroupHandle:
    """The cgroup(s) of one container, as plain paths."""

    dirs: tuple[str, ...]  # one per hierarchy (v1) or one (v2); innermost last in removal order
    procs_files: tuple[str, ...]  # write "0" to each to join
    oom_files: tuple[tuple[str, str], ...]  # (file, key) whose "key N" lines count OOM kills


class Cgroups(Protocol):
    version: int

    def create(self, parts: list[str], limits: Limits, cpu_period_us: int) -> CgroupHandle:
        """Make the container's cgroup at parent/parts..., with the limits set."""
        ...

    def kill_all(self, dirs: Iterable[str]) -> None:
        """SIGKILL every process in the cgroups."""
        ...

    def remove(self, dirs: Iterable[str]) -> None:
        """Remove the cgroups (killing what is left in them); nothing if gone."""
        ...

    def remove_tree(self, parts: list[str]) -> None:
        """Remove parent/parts and everything below it (a node's or a pod's leftovers)."""
        ...


def _part(value: str) -> str:
    return _SAFE.sub("_", value) or "_"


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupError(f"writing {value!r} to {path}: {exc.strerror or exc}") from exc


def _pids(directory: Path) -> list[int]:
    try:
        return [int(p) for p in (directory / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_pids(directory: Path) -> None:
    for pid in _pids(directory):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _rmdir_tree(top: Path, kill: bool = True, timeout: float = 2.0) -> None:
    """Remove a cgroup directory and its children, deepest first, killing what runs there."""
    if not top.is_dir():
        return
    subdirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for directory in [*subdirs, top]:
        deadline = time.monotonic() + timeout
        while True:
            if kill:
                _kill_pids(directory)
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise CgroupError(f"removing {directory}: {exc.strerror}") from exc
                time.sleep(0.02)


def _own_cgroup(controller: str) -> str:
    """The agent's own cgroup path in a v1 hierarchy (from /proc/self/cgroup)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return path
    except (OSError, ValueError):
        pass
    return "/"


class CgroupsV1:
    """Separate memory and cpu hierarchies."""

    version = 1

    def __init__(
        self, memory_root: Path, cpu_root: Path, parent: str, cpuacct_root: Path | None = None
    ) -> None:
        self.memory_base = memory_root / _own_cgroup("memory").lstrip("/") / parent
        self.cpu_base = cpu_root / _own_cgroup("cpu").lstrip("/") / parent
        # A separate cpuacct hierarchy (None: joint with cpu, or absent): accounting only.
        self.cpuacct_base = (
            cpuacct_root / _own_cgroup("cpuacct").lstrip("/") / parent
            if cpuacct_root is not None and cpuacct_root != cpu_root
            else None
        )

    def _bases(self) -> list[Path]:
        extra = [self.cpuacct_base] if self.cpuacct_base is not None else []
        return [self.memory_base, self.cpu_base, *extra]

    def create(self, parts: list[str], limits: Limits, cpu_period_us: int) -> CgroupHandle:
        rel = Path(*(_part(p) for p in parts))
        memory = self.memory_base / rel
        cpu = self.cpu_base / rel
        accounting = [self.cpuacct_base / rel] if self.cpuacct_base is not None else []
        for directory in (memory, cpu, *accounting):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CgroupError(f"creating {directory}: {exc.strerror}") from exc
        if limits.memory_bytes is not None:
            _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():
                with contextlib.suppress(CgroupError):  # only where swap accounting is on
                    _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        if limits.cpu_millis is not None:
            quota = max(MIN_QUOTA_US, limits.cpu_millis * cpu_period_us // 1000)
            _write(cpu / "cpu.cfs_period_us", str(cpu_period_us))
            _write(cpu / "cpu.cfs_quota_us", str(quota))
        return CgroupHandle(
            dirs=(str(memory), str(cpu), *(str(d) for d in accounting)),
            procs_files=(
                str(memory / "cgroup.procs"),
                str(cpu / "cgroup.procs"),
                *(str(d / "cgroup.procs") for d in accounting),
            ),
            oom_files=((str(memory / "memory.oom_control"), "oom_kill"),),
        )

    def kill_all(self, dirs: Iterable[str]) -> None:
        for directory in dirs:
            _kill_pids(Path(directory))

    def remove(self, dirs: Iterable[str]) -> None:
        for directory in dirs:
            _rmdir_tree(Path(directory))

    def remove_tree(self, parts: list[str]) -> None:
        rel = Path(*(_part(p) for p in parts))
        for base in self._bases():
            _rmdir_tree(base / rel)


class CgroupsV2:
    """The unified hierarchy."""

    version = 2

    def __init__(self, root: Path, parent: str) -> None:
        self.root = root
        self.base = root / parent

    def create(self, parts: list[str], limits: Limits, cpu_period_us: int) -> CgroupHandle:
        leaf = self.base.joinpath(*(_part(p) for p in parts))
        # enable the controllers on the way down: root -> ... -> leaf's parent
        rel = leaf.relative_to(self.root).parts
        chain = [self.root.joinpath(*rel[:i]) for i in range(len(rel))]
        for directory in chain:
            directory.mkdir(exist_ok=True)
            available = (directory / "cgroup.controllers").read_text().split()
            wanted = [c for c in ("memory", "cpu") if c in available]
            enabled = (directory / "cgroup.subtree_control").read_text().split()
            missing = " ".join(f"+{c}" for c in wanted if c not in enabled)
            if missing:
                _write(directory / "cgroup.subtree_control", missing)
        try:
            leaf.mkdir(exist_ok=True)
        except OSError as exc:
            raise CgroupError(f"creating {leaf}: {exc.strerror}") from exc
        if limits.memory_bytes is not None:
            _write(leaf / "memory.max", str(limits.memory_bytes))
            if (leaf / "memory.swap.max").exists():
                _write(leaf / "memory.swap.max", "0")
        if limits.cpu_millis is not None:
            quota = max(MIN_QUOTA_US, limits.cpu_millis * cpu_period_us // 1000)
            _write(leaf / "cpu.max", f"{quota} {cpu_period_us}")
        return CgroupHandle(
            dirs=(str(leaf),),
            procs_files=(str(leaf / "cgroup.procs"),),
            oom_files=((str(leaf / "memory.events"), "oom_kill"),),
        )

    def kill_all(self, dirs: Iterable[str]) -> None:
        for directory in dirs:
            kill_file = Path(directory) / "cgroup.kill"
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
                    continue
            _kill_pids(Path(directory))

    def remove(self, dirs: Iterable[str]) -> None:
        self.kill_all(dirs)
        for directory in dirs:
            _rmdir_tree(Path(directory))

    def remove_tree(self, parts: list[str]) -> None:
        _rmdir_tree(self.base.joinpath(*(_part(p) for p in parts)))


def _v1_mounts() -> dict[str, Path]:
    """Controller -> mount point of each v1 hierarchy, from /proc/mounts."""
    found: dict[str, Path] = {}
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "cgroup":
            for option in fields[3].split(","):
                if option in ("memory", "cpu", "cpuacct"):
                    found[option] = Path(fields[1])
    return found


def detect(parent: str = "paas", root: Path = CGROUP_ROOT) -> Cgroups | None:
    """The writable cgroup implementation of this machine, or None when there is none."""
    candidate: Cgroups | None = None
    if (root / "cgroup.controllers").exists():
        controllers = (root / "cgroup.controllers").read_text().split()
        if "memory" in controllers:
            candidate = CgroupsV2(root, parent)
    else:
        mounts = _v1_mounts()
        if "memory" in mounts and "cpu" in mounts:
            candidate = CgroupsV1(mounts["memory"], mounts["cpu"], parent, mounts.get("cpuacct"))
    if candidate is None:
        return None
    try:
        probe = candidate.create([f"probe-{os.urandom(6).hex()}"], Limits(), 100_000)
        candidate.remove(reversed(probe.dirs))
    except (OSError, CgroupError):
        return None
    return candidate

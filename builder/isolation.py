"""Running a build as a child process tree under a time and a memory limit.

The child starts in its own session (so one ``killpg`` reaches everything
it forked, unless something calls ``setsid`` again) and, where the builder
runs as root with a writable cgroup hierarchy, in a cgroup of its own
(``<own>/paas/builds/<id>``, through orchestrator.kubelet.cgroups, v1 or
v2): ``memory.limit_in_bytes``/``memory.max`` bound the whole tree, the
kernel's OOM killer ends it at the limit and ``oom_kill`` counts that, and
killing the cgroup's members catches what left the session. Without a
cgroup each process gets ``RLIMIT_DATA`` (not ``RLIMIT_AS``: V8 reserves
gigabytes of address space up front and node cannot start under a few
hundred MiB of it, measured here), and running out is recognised from the
failing tool's output.

The parent reads the child's output with a deadline: at the limit it kills
the session and the cgroup, reads what is left for a short grace (a
process that escaped both could hold the pipe forever), and reports. When
the child ends, whatever it left running in its session or cgroup is
killed too: a build leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.kubelet import cgroups
from orchestrator.kubelet.runtimes.base import Limits as CgroupLimits

# how tools say they ran out of memory when no cgroup counts it (python, node, glibc, C++)
OOM_MARKERS = (
    "MemoryError",
    "Cannot allocate memory",
    "heap out of memory",
    "Fatal process OOM",
    "std::bad_alloc",
    "out of memory",
)
CANCEL_POLL_S = 0.2  # how soon a cancel is seen while the build is quiet


@dataclass(frozen=True)
class Limits:
    time_s: float
    memory_bytes: int | None
    cpu_millis: int | None = None
    kill_grace_s: float = 2.0  # output still read after a kill, for what escaped it


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    timed_out: bool
    out_of_memory: bool
    cancelled: bool
    cgroup: bool  # whether the limits were a cgroup's (else RLIMIT_DATA)


@dataclass(frozen=True)
class Confinement:
    """What the child must do to put itself under the limits (it does so first thing)."""

    cgroup_procs: tuple[str, ...] = ()
    rlimit_data: int | None = None


class LimitedRun:
    """One child under limits: ``confinement`` for the child, then ``run``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.groups = cgroups.detect() if os.geteuid() == 0 else None
        self.handle: cgroups.CgroupHandle | None = None
        self.parts = ["builds", f"build-{uuid.uuid4().hex[:12]}"]
        if self.groups is not None:
            try:
                self.handle = self.groups.create(
                    self.parts,
                    CgroupLimits(cpu_millis=limits.cpu_millis, memory_bytes=limits.memory_bytes),
                    100_000,
                )
            except cgroups.CgroupError:
                self.handle = None

    @property
    def confinement(self) -> Confinement:
        if self.handle is not None:
            return Confinement(cgroup_procs=self.handle.procs_files)
        return Confinement(rlimit_data=self.limits.memory_bytes)

    def run(
        self,
        argv: list[str],
        env: Mapping[str, str],
        out: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> Outcome:
        """Run ``argv``, each line to ``out`` as it comes; kill it at the time limit or cancel."""
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + self.limits.time_s
        timed_out, cancelled, marker_seen = False, False, False
        buffer = b""
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                wait = deadline - time.monotonic()
                stop = cancel is not None and cancel.is_set() and not cancelled
                if wait <= 0 or stop:
                    if timed_out or (cancelled and wait <= 0):
                        break  # the grace after the kill is over
                    timed_out, cancelled = (timed_out, True) if stop else (True, cancelled)
                    self._kill(proc.pid)
                    deadline = time.monotonic() + self.limits.kill_grace_s
                    continue
                if not selector.select(timeout=min(wait, CANCEL_POLL_S)):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    marker_seen = marker_seen or any(m in line for m in OOM_MARKERS)
                    out(line)
            if buffer:
                out(buffer.decode("utf-8", "replace"))
        finally:
            selector.close()
            proc.stdout.close()
            self._kill(proc.pid)  # what the build left running goes with it
            code = proc.wait()
        oom = self._oom_kills() > 0 if self.handle is not None else marker_seen
        stopped = timed_out or cancelled
        return Outcome(code, timed_out, oom and not stopped, cancelled, self.handle is not None)

    def _kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        if self.groups is not None and self.handle is not None:
            with contextlib.suppress(OSError, cgroups.CgroupError):
                self.groups.kill_all(self.handle.dirs)

    def _oom_kills(self) -> int:
        assert self.handle is not None
        total = 0
        for file, key in self.handle.oom_files:
            with contextlib.suppress(OSError):
                for line in Path(file).read_text().splitlines():
                    name, _, value = line.partition(" ")
                    if name == key and value.strip().isdigit():
                        total += int(value)
        return total

    def close(self) -> None:
        """Remove the cgroup (its members were killed when the run ended)."""
        if self.groups is not None and self.handle is not None:
            with contextlib.suppress(OSError, cgroups.CgroupError):
                self.groups.kill_all(self.handle.dirs)
                self.groups.remove(reversed(self.handle.dirs))

"""The containers of the process runtime: start, stop, remove, list, and their cgroups.

A start is idempotent by container ID: a container that has a ``pid.json``
or an ``exit.json`` was started before and its state is returned as it is;
a directory without either is a start that never reported back, and is made
again. The order of a start is what makes a crash at any point harmless:

1. the launch spec is checked (``processlaunch``), before anything is made;
2. the container dir and, as root, its cgroups (limits set) are made;
3. ``spec.json`` is written and the supervisor spawned (``processspawn``);
   when it fails, the dir and the cgroups go again;
4. the exit is watched (``processexits``).

A stop is SIGTERM to the container's first process, then after the grace
period SIGKILL to its process group and everything in its cgroups; it
returns once ``exit.json`` is there and the supervisor has been reaped. A
container that will not end even then is recorded as lost (exit code 137).

cgroups are removed on a best-effort basis: one that will not go (a process
stuck in the kernel) is logged, and tried again when the runtime next
starts, for every container that has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.kubelet.cgroups import CgroupError, Cgroups
from orchestrator.kubelet.runtimes.base import (
    ContainerSpec,
    ContainerStartError,
    ContainerState,
    Sandbox,
)
from orchestrator.kubelet.runtimes.processexits import ExitWatcher
from orchestrator.kubelet.runtimes.processimages import resolve_image
from orchestrator.kubelet.runtimes.processlaunch import launch_spec
from orchestrator.kubelet.runtimes.processlayout import (
    Layout,
    alive,
    container_id,
    read_json,
    safe_part,
    write_json,
)
from orchestrator.kubelet.runtimes.processsettings import ProcessRuntimeSettings
from orchestrator.kubelet.runtimes.processspawn import spawn_supervisor, supervisor_gone
from orchestrator.kubelet.runtimes.processstate import container_state, record_lost_exit

log = logging.getLogger(__name__)


class ProcessContainers:
    """Every container of the node, found through its directory (see ``processlayout``)."""

    def __init__(
        self,
        layout: Layout,
        node_name: str,
        settings: ProcessRuntimeSettings,
        cgroups: Cgroups | None,
        isolate: bool,
    ) -> None:
        self._layout = layout
        self._node_name = node_name
        self._settings = settings
        self._cgroups = cgroups  # None: no limits on this node
        self._isolate = isolate  # namespaces (and so mounts) for each container
        self._exits = ExitWatcher(layout, settings.exit_poll_interval)

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._exits.on_change(callback)

    def adopt(self) -> None:
        """Watch what still runs; remove the cgroups that ended containers left behind."""
        for cdir in self._layout.container_dirs():
            if (cdir / "pid.json").exists() and not (cdir / "exit.json").exists():
                self._exits.watch(cdir)
            elif (cdir / "exit.json").exists():
                # a supervisor that ended hard may have left its cgroups behind
                self._remove_cgroups((read_json(cdir / "spec.json") or {}).get("cgroup_dirs", []))

    async def close(self) -> None:
        """Stop watching (every container keeps running)."""
        await self._exits.close()

    async def start(self, sandbox: Sandbox, spec: ContainerSpec) -> ContainerState:
        cid = container_id(spec.pod_uid, safe_part(spec.name, "container name"), spec.attempt)
        cdir = self._layout.container_dir(cid)
        if (cdir / "pid.json").exists() or (cdir / "exit.json").exists():
            return container_state(cdir)  # started before: idempotent
        image = resolve_image(spec, self._settings.slug_dir)
        pod_dir = self._layout.pod_dir(spec.pod_uid)
        record = read_json(pod_dir / "sandbox.json")
        if record is None:
            raise ContainerStartError(
                "CreateContainerError", f'container "{spec.name}": the pod has no sandbox'
            )
        launch = launch_spec(cid, cdir, pod_dir, spec, image, record, self._settings, self._isolate)
        if cdir.exists():
            shutil.rmtree(cdir)  # a start that never reported back
        cdir.mkdir(parents=True)
        launch["cgroup_procs"], launch["cgroup_dirs"], launch["oom_files"] = [], [], []
        if self._cgroups is not None:
            try:
                group = self._cgroups.create(
                    [self._node_name, spec.pod_uid, f"{spec.name}.{spec.attempt}"],
                    spec.limits,
                    self._settings.cpu_period_us,
                )
            except CgroupError as exc:
                shutil.rmtree(cdir, ignore_errors=True)
                raise ContainerStartError(
                    "CreateContainerError", f'container "{spec.name}": {exc}'
                ) from exc
            launch["cgroup_procs"] = list(group.procs_files)
            launch["cgroup_dirs"] = list(group.dirs)
            launch["oom_files"] = [list(pair) for pair in group.oom_files]
        write_json(cdir / "spec.json", launch)
        try:
            await spawn_supervisor(self._settings.python, cdir, self._settings.start_timeout)
        except ContainerStartError:
            shutil.rmtree(cdir, ignore_errors=True)
            self._remove_cgroups(launch["cgroup_dirs"])
            raise
        self._exits.watch(cdir)
        return container_state(cdir)

    async def stop(self, cid: str, grace_seconds: float) -> None:
        cdir = self._layout.container_dir(cid)
        pid_info = read_json(cdir / "pid.json")
        if pid_info is None or (cdir / "exit.json").exists():
            return
        target, start = pid_info["pid"], pid_info["pid_start"]
        if alive(target, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGTERM)
            if await _wait_exit(cdir, max(grace_seconds, 0.0)):
                return
        self._kill_all(cdir, pid_info)
        if not await _wait_exit(cdir, 10.0):
            record_lost_exit(cdir, "the container did not end after SIGKILL")

    async def remove(self, cid: str) -> None:
        cdir = self._layout.container_dir(cid)
        if not cdir.exists():
            return
        try:
            state = container_state(cdir)
        except FileNotFoundError:  # another remove() is at it
            return
        if state.status == "running":
            await self.stop(cid, 0)
        self._exits.unwatch(cid)
        launch = read_json(cdir / "spec.json") or {}
        self._remove_cgroups(launch.get("cgroup_dirs", []))
        await asyncio.to_thread(shutil.rmtree, cdir, True)

    async def remove_pod(self, pod_uid: str) -> None:
        """Stop (at once) and remove every container of the pod."""
        for state in await self.states(pod_uid):
            if state.status == "running":
                await self.stop(state.id, 0)
            await self.remove(state.id)

    async def states(self, pod_uid: str | None = None) -> list[ContainerState]:
        found = []
        for cdir in self._layout.container_dirs(pod_uid):
            if not (cdir / "spec.json").exists():
                continue
            try:
                found.append(container_state(cdir))
            except FileNotFoundError:  # removed while it was read (``remove`` runs beside)
                continue
        return found

    async def remove_pod_cgroups(self, pod_uid: str) -> None:
        await self._remove_cgroup_tree([self._node_name, pod_uid])

    async def remove_node_cgroups(self) -> None:
        await self._remove_cgroup_tree([self._node_name])

    def _kill_all(self, cdir: Path, pid_info: dict[str, Any]) -> None:
        target, start = pid_info["pid"], pid_info["pid_start"]
        if alive(target, start):
            with contextlib.suppress(ProcessLookupError):
                if pid_info.get("pgid"):
                    os.killpg(pid_info["pgid"], signal.SIGKILL)
                else:
                    os.kill(target, signal.SIGKILL)
        launch = read_json(cdir / "spec.json") or {}
        if self._cgroups is not None and launch.get("cgroup_dirs"):
            self._cgroups.kill_all(launch["cgroup_dirs"])

    def _remove_cgroups(self, dirs: list[str]) -> None:
        """Best effort: a cgroup that will not go is logged, and retried at the next start."""
        if self._cgroups is not None and dirs:
            try:
                self._cgroups.remove(dirs)
            except CgroupError as exc:
                log.warning("cgroup left behind: %s", exc)

    async def _remove_cgroup_tree(self, parts: list[str]) -> None:
        if self._cgroups is not None:
            try:
                await asyncio.to_thread(self._cgroups.remove_tree, parts)
            except CgroupError as exc:
                log.warning("cgroup left behind: %s", exc)


async def _wait_exit(cdir: Path, timeout: float) -> bool:
    """True once the container has ended: exit.json written (or its supervisor lost).

    The supervisor ends right after writing exit.json; it is waited for a
    moment more and reaped, so that a stopped container leaves no zombie.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    settled_by: float | None = None
    while True:
        pid_info = read_json(cdir / "pid.json") or {}
        if (cdir / "exit.json").exists():
            settled_by = settled_by or loop.time() + 3.0
            if supervisor_gone(pid_info) or loop.time() >= settled_by:
                return True
        elif supervisor_gone(pid_info):
            if (cdir / "exit.json").exists():
                continue
            if not alive(pid_info.get("pid"), pid_info.get("pid_start")):
                with contextlib.suppress(FileNotFoundError):  # removed meanwhile: ended too
                    record_lost_exit(cdir, "its supervisor ended without an exit status")
                return True
        if settled_by is None and loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)

"""Noticing that a process runtime container has ended, and telling the node agent.

Each running container is watched through its supervisor (which ends right
after writing ``exit.json``): a pidfd of the supervisor registered with the
event loop becomes readable when it exits, so an exit is noticed at once and
nothing polls. Where pidfds are missing (an old kernel, a supervisor that
is gone already, one that is not ours to open), one task looks at the
watched containers' records every ``exit_poll_interval`` instead.

An exit is reported through the ``on_change`` callbacks with the pod's uid,
once per watch; the pod worker then reads the state itself. A callback that
raises is logged and the others still run. A supervisor this agent started
is reaped when its exit is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.kubelet.runtimes.processlayout import Layout, alive, read_json
from orchestrator.kubelet.runtimes.processstate import container_state

log = logging.getLogger(__name__)


@dataclass
class _Watch:
    """One running container whose supervisor we wait on."""

    pod_uid: str
    supervisor: int
    pidfd: int | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the loop the pidfd is registered with


class ExitWatcher:
    """The containers being waited on, by container ID."""

    def __init__(self, layout: Layout, poll_interval: float) -> None:
        self._layout = layout
        self._poll_interval = poll_interval
        self._callbacks: list[Callable[[str], None]] = []
        self._watches: dict[str, _Watch] = {}
        self._poller: asyncio.Task[None] | None = None

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)

    def watch(self, cdir: Path) -> None:
        """Wait on the container in ``cdir`` (started, or found running at adoption)."""
        launch = read_json(cdir / "spec.json") or {}
        pid_info = read_json(cdir / "pid.json") or {}
        cid = launch.get("id", "")
        if not cid or cid in self._watches:
            return
        watch = _Watch(pod_uid=launch["pod_uid"], supervisor=int(pid_info.get("supervisor", 0)))
        self._watches[cid] = watch
        loop = asyncio.get_running_loop()
        if alive(pid_info.get("supervisor"), pid_info.get("supervisor_start")):
            try:
                watch.pidfd = os.pidfd_open(watch.supervisor)
            except (AttributeError, OSError):
                watch.pidfd = None
        if watch.pidfd is not None:
            watch.loop = loop
            loop.add_reader(watch.pidfd, self._on_exit, cid)
        elif alive(pid_info.get("supervisor"), pid_info.get("supervisor_start")) or alive(
            pid_info.get("pid"), pid_info.get("pid_start")
        ):
            self._ensure_poller()
        else:
            loop.call_soon(self._on_exit, cid)

    def unwatch(self, cid: str) -> None:
        watch = self._watches.pop(cid, None)
        if watch is not None and watch.pidfd is not None:
            if watch.loop is not None and not watch.loop.is_closed():
                watch.loop.remove_reader(watch.pidfd)
            os.close(watch.pidfd)
            watch.pidfd = None

    async def close(self) -> None:
        """Stop watching everything (the containers keep running)."""
        for cid in list(self._watches):
            self.unwatch(cid)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_exits())

    async def _poll_exits(self) -> None:
        while any(w.pidfd is None for w in self._watches.values()):
            await asyncio.sleep(self._poll_interval)
            for cid, watch in list(self._watches.items()):
                if watch.pidfd is None:
                    state = container_state(self._layout.container_dir(cid))
                    if state.status != "running":
                        self._on_exit(cid)

    def _on_exit(self, cid: str) -> None:
        watch = self._watches.get(cid)
        if watch is None:
            return
        self.unwatch(cid)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(watch.supervisor, os.WNOHANG)  # ours if we started it: reap it
        for callback in list(self._callbacks):
            try:
                callback(watch.pod_uid)
            except Exception:
                log.exception("on_change callback failed for pod %s", watch.pod_uid)

"""Into a running process runtime container: exec (probes, preStop hooks) and its logs.

An exec must see what the container sees. When the container has anything
to enter (a network namespace, a PID namespace, cgroups) the command runs
under ``supervise exec``, which joins them before it execs; otherwise it is
started directly with the container's env and working dir, sparing a
Python start per probe. Either way it runs in a session of its own, so that
a timeout kills its whole process group and the result says ``timed_out``:
a hung probe costs its timeout and no more. Output (stdout and stderr
together) is kept up to ``exec_output_limit`` bytes and the rest drained.
A command that cannot be run answers as a shell would: 127 when it is not
found, 126 otherwise.

Logs are the CRI log files the supervisor writes, read by ``logreader``;
a followed log ends when the container is no longer running (or removed).
An unknown container, or exec into one that is not running, raises
``LookupError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

from orchestrator.kubelet.logreader import read_log
from orchestrator.kubelet.runtimes.base import ExecResult, LogOptions
from orchestrator.kubelet.runtimes.processlayout import Layout, read_json
from orchestrator.kubelet.runtimes.processsettings import ProcessRuntimeSettings
from orchestrator.kubelet.runtimes.processspawn import PACKAGE_ROOT, supervise_argv
from orchestrator.kubelet.runtimes.processstate import container_state


class ProcessExec:
    """exec and logs of the node's containers, found by ID (see ``processlayout``)."""

    def __init__(self, layout: Layout, settings: ProcessRuntimeSettings) -> None:
        self._layout = layout
        self._settings = settings

    async def exec(self, container_id: str, argv: list[str], timeout: float) -> ExecResult:
        cdir = self._layout.container_dir(container_id)
        if not cdir.exists():
            raise LookupError(f"no container {container_id}")
        state = container_state(cdir)
        if state.status != "running":
            raise LookupError(f"container {container_id} is not running")
        launch = read_json(cdir / "spec.json") or {}
        if not argv:
            return ExecResult(exit_code=126, output=b"exec: no command given\n")
        entering = bool(launch.get("netns") or launch.get("pid_namespace"))
        entering = entering or bool(launch.get("cgroup_procs"))
        if entering:
            command = supervise_argv(self._settings.python, "exec", str(cdir), "--", *argv)
            env = {"PYTHONPATH": PACKAGE_ROOT}
            cwd = None
        else:
            command, env, cwd = list(argv), dict(launch.get("env", [])), launch.get("cwd")
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError:
            msg = f'exec: "{argv[0]}": executable file not found in $PATH\n'
            return ExecResult(exit_code=127, output=msg.encode())
        except OSError as exc:
            return ExecResult(exit_code=126, output=f'exec: "{argv[0]}": {exc}\n'.encode())
        limit = self._settings.exec_output_limit
        output = bytearray()

        async def collect() -> int:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                if len(output) < limit:
                    output.extend(chunk[: limit - len(output)])
            return await proc.wait()

        try:
            code = await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return ExecResult(exit_code=137, output=bytes(output), timed_out=True)
        return ExecResult(exit_code=code, output=bytes(output))

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        cdir = self._layout.container_dir(container_id)
        if not (cdir / "spec.json").exists():
            raise LookupError(f"no container {container_id}")

        def running() -> bool:  # a removed container has ended too
            return (cdir / "spec.json").exists() and container_state(cdir).status in (
                "running",
                "created",
            )

        async for line in read_log(
            cdir / "container.log",
            options,
            running=running,
            poll_interval=self._settings.log_follow_interval,
        ):
            yield line

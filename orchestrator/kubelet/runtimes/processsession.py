"""Interactive exec into a process runtime container (``kubectl exec``, ``kubectl cp``).

The command runs under ``supervise exec`` (see ``supervise.exec_in``), which
joins the container's cgroups and namespaces and takes its env and working
dir, exactly as an exec probe does; here it is always used, even without
namespaces, because it also makes the terminal the command's controlling
tty. It is started in a session of its own, so that ``close()`` (the client
went away) kills its whole process group.

Without a tty stdin, stdout and stderr are pipes; with one they are the
slave side of a pseudo-terminal (``os.openpty``) whose master is read and
written here, and a resize is ``TIOCSWINSZ`` on the master (the kernel then
sends SIGWINCH to the foreground process group). The end of output is EOF on
the pipes, or EIO on the master once every holder of the slave has gone.

A command that is not in the container is refused before anything runs,
with the error ``exec`` would print, so the user sees a Failure status and
not an exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import struct
import termios
from pathlib import Path

from orchestrator.kubelet.runtimes.base import Mount, StreamError, StreamOptions
from orchestrator.kubelet.runtimes.processlaunch import find_executable
from orchestrator.kubelet.runtimes.processlayout import read_json
from orchestrator.kubelet.runtimes.processspawn import PACKAGE_ROOT, supervise_argv
from orchestrator.kubelet.runtimes.processstate import container_state

READ_SIZE = 65536


def set_window_size(fd: int, width: int, height: int) -> None:
    """The terminal's size in characters (rows first, as ``struct winsize`` has it)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def check_command(cdir: Path, argv: list[str]) -> None:
    """Raise StreamError when the container cannot run ``argv`` (not running, not found)."""
    if not (cdir / "spec.json").exists():
        raise StreamError(f"container not found ({cdir.name})")
    if container_state(cdir).status != "running":
        raise StreamError(f"container {cdir.name.rsplit('.', 1)[0]} is not running")
    if not argv:
        raise StreamError("you must specify at least one command for the container")
    launch = read_json(cdir / "spec.json") or {}
    env = dict(launch.get("env", []))
    mounts = [Mount(source, target) for source, target, _ in launch.get("binds", [])]
    if find_executable(argv[0], env.get("PATH", ""), launch.get("cwd", "/"), mounts) is None:
        where = (
            "no such file or directory" if "/" in argv[0] else "executable file not found in $PATH"
        )
        raise StreamError(f'error executing command in container: exec: "{argv[0]}": {where}')


class ProcessExecSession:
    """One ``supervise exec`` child, its output queued as ``(channel, data)``."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self._proc = proc
        self._master = master
        self._output: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(maxsize=16)
        self._readers: list[asyncio.Task[None]] = []
        self._ender: asyncio.Task[None] | None = None  # puts the end mark once the pipes end
        self._stdin_closed = False

    @classmethod
    async def start(
        cls, python: str, cdir: Path, argv: list[str], options: StreamOptions
    ) -> ProcessExecSession:
        check_command(cdir, argv)
        flags = ["--tty"] if options.tty else []
        command = supervise_argv(python, "exec", str(cdir), *flags, "--", *argv)
        env = {"PYTHONPATH": PACKAGE_ROOT}
        if options.tty:
            master, slave = os.openpty()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *command, stdin=slave, stdout=slave, stderr=slave, env=env,
                    start_new_session=True,
                )  # fmt: skip
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)
            os.set_blocking(master, False)
            session = cls(proc, master)
            session._readers.append(asyncio.create_task(session._pump_master()))
            session._ender = asyncio.create_task(session._end_when_read())
            return session
        pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=pipe if options.stdin else devnull,
            stdout=pipe if options.stdout else devnull,
            stderr=pipe if options.stderr else devnull,
            env=env,
            start_new_session=True,
        )
        session = cls(proc, None)
        streams = [(1, proc.stdout), (2, proc.stderr)]
        for channel, stream in streams:
            if stream is not None:
                session._readers.append(asyncio.create_task(session._pump(channel, stream)))
        session._ender = asyncio.create_task(session._end_when_read())
        return session

    async def _pump(self, channel: int, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_SIZE):
            await self._output.put((channel, chunk))

    async def _end_when_read(self) -> None:
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self._output.put(None)

    async def _pump_master(self) -> None:
        assert self._master is not None
        loop = asyncio.get_running_loop()
        while True:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(self._master, _settle, ready)
            try:
                await ready
            finally:
                loop.remove_reader(self._master)
            try:
                chunk = os.read(self._master, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError as exc:  # EIO: the last holder of the slave has gone
                if exc.errno == errno.EIO:
                    return
                raise
            if not chunk:
                return
            await self._output.put((1, chunk))

    async def read(self) -> tuple[int, bytes] | None:
        return await self._output.get()

    async def write(self, data: bytes) -> None:
        if self._master is not None:
            await _write_fd(self._master, data)
            return
        stdin = self._proc.stdin
        if stdin is None or self._stdin_closed:
            return
        with contextlib.suppress(ConnectionError):
            stdin.write(data)
            await stdin.drain()

    async def close_stdin(self) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                await _write_fd(self._master, b"\x04")  # a terminal's end of input: ^D
            return
        if self._proc.stdin is not None and not self._stdin_closed:
            self._stdin_closed = True
            self._proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                set_window_size(self._master, width, height)

    async def wait(self) -> int:
        code = await self._proc.wait()
        return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it

    async def close(self) -> None:
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            await self._proc.wait()
        for task in [*self._readers, *([self._ender] if self._ender else [])]:
            task.cancel()
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None


async def _write_fd(fd: int, data: bytes) -> None:
    """All of ``data`` into a non-blocking fd, waiting for room as needed."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            room: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, _settle, room)
            try:
                await room
            finally:
                loop.remove_writer(fd)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():  # a second wake-up before the waiter ran
        future.set_result(None)

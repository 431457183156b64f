"""Starting a container's supervisor, hearing whether its app started, and seeing it gone.

Each container runs under ``python -S -m orchestrator.kubelet.supervise run
<container dir>`` (like conmon): started with ``posix_spawn`` in a session
of its own, so that it outlives the node agent, SIGKILL included, with stdio
on /dev/null and its own errors in ``supervisor.log``. It reads
``spec.json``, starts the app and writes ``ok`` (or ``error <why>``) on fd 3,
a pipe whose read end is here; the pipe's closing ends the wait. A
supervisor that says nothing within ``start_timeout`` is killed, and the
start fails with ``ContainerStartError`` quoting the end of its log.

The supervisor runs with ``-S`` (no site-packages, a fast start) and finds
``orchestrator`` through ``PYTHONPATH`` = ``PACKAGE_ROOT``. A supervisor
this agent started is its child: it is reaped when it ends so that no zombie
is left; one started by an earlier agent was reparented and is only
watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import orchestrator
from orchestrator.kubelet.runtimes.base import ContainerStartError
from orchestrator.kubelet.runtimes.processlayout import alive
from orchestrator.kubelet.runtimes.processsettings import DEFAULT_PATH

# where the supervisor imports ``orchestrator`` from (it runs with -S: no site-packages)
PACKAGE_ROOT = str(Path(orchestrator.__file__).resolve().parent.parent)


def supervise_argv(python: str, *args: str) -> list[str]:
    """The command line of ``orchestrator.kubelet.supervise`` (env: PYTHONPATH=PACKAGE_ROOT)."""
    return [python, "-S", "-m", "orchestrator.kubelet.supervise", *args]


async def spawn_supervisor(python: str, cdir: Path, timeout: float) -> None:
    """Start the supervisor in its own session; wait for its "ok" (or error) on fd 3."""
    read_end, write_end = os.pipe()
    try:
        pid = _spawn(python, cdir, write_end)
    finally:
        os.close(write_end)
    try:
        message = await asyncio.wait_for(_read_to_eof(read_end), timeout)
    except TimeoutError:
        message = b""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(read_end)
    if message == b"ok":
        return
    await asyncio.to_thread(_reap, pid)
    name = cdir.name.rsplit(".", 1)[0]
    if message.startswith(b"error "):
        text = message[6:].decode(errors="replace")
        raise ContainerStartError("RunContainerError", f'container "{name}": {text}')
    detail = (cdir / "supervisor.log").read_text(errors="replace").strip()[-2000:]
    raise ContainerStartError(
        "RunContainerError",
        f'container "{name}": its supervisor did not report a start'
        + (f": {detail}" if detail else ""),
    )


def supervisor_gone(pid_info: dict[str, Any]) -> bool:
    """The supervisor has ended; reaped here if it is our child (no zombie is left)."""
    pid = pid_info.get("supervisor")
    if not pid:
        return True
    try:
        done, _ = os.waitpid(int(pid), os.WNOHANG)
        if done:
            return True
    except ChildProcessError:
        pass
    if not alive(pid, pid_info.get("supervisor_start")):
        return True
    try:  # a zombie that another process (an earlier agent) has yet to reap
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _spawn(python: str, cdir: Path, ready_fd: int) -> int:
    """``supervise run`` in a new session: stdio to /dev/null and supervisor.log, fd 3 = ready."""
    argv = supervise_argv(python, "run", str(cdir))
    env = {"PYTHONPATH": PACKAGE_ROOT, "PATH": os.environ.get("PATH", DEFAULT_PATH)}
    return os.posix_spawn(
        python,
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                2,
                str(cdir / "supervisor.log"),
                os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o644,
            ),
            (os.POSIX_SPAWN_DUP2, ready_fd, 3),
        ],
        setsid=True,
    )


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


async def _read_to_eof(fd: int) -> bytes:
    """Everything written to a pipe until its last writer closes it, without blocking the loop."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    data = bytearray()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if chunk:
            data.extend(chunk)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return bytes(data)

"""``kubectl attach`` to a process runtime container: its output from now on, its stdin.

The container's main process belongs to its supervisor (``supervise``), not
to this agent, which may have restarted since; so attaching goes through
what the supervisor leaves in the container's dir:

- output: the CRI log file, followed from its current end. Each entry goes
  out on its stream's channel (1 stdout, 2 stderr), a partial entry without
  a newline: the supervisor writes a tty's output as it comes, so a prompt
  shows. The session ends when the container has ended and the log is read.
- stdin: the FIFO ``stdin`` that the supervisor of a ``stdin: true``
  container holds open; writes go into it (into the terminal with a tty).
  Closing our end is not the container's EOF (the supervisor keeps a
  writer), as in Kubernetes without ``stdinOnce``.
- resize: ``TIOCSWINSZ`` on the terminal's slave named in ``pid.json``.

A rotation of the log while attached is followed: the file is reopened
when the name points at a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from orchestrator.kubelet.logformat import parse_entry
from orchestrator.kubelet.runtimes.base import StreamError, StreamOptions
from orchestrator.kubelet.runtimes.processlayout import read_json
from orchestrator.kubelet.runtimes.processsession import set_window_size
from orchestrator.kubelet.runtimes.processstate import container_state


class ProcessAttachSession:
    """Following one container's log and feeding its stdin FIFO."""

    def __init__(self, cdir: Path, options: StreamOptions, poll_interval: float) -> None:
        self._cdir = cdir
        self._options = options
        self._poll = poll_interval
        # "a+b": a container just started may not have opened its log yet; the supervisor
        # appends ("ab") to the same file, so creating it here first changes nothing.
        self._log: BinaryIO = open(cdir / "container.log", "a+b")
        self._log.seek(0, os.SEEK_END)
        self._rest = b""
        self._stdin: int | None = None
        self._pending: list[tuple[int, bytes]] = []
        self._ended = False

    @classmethod
    def start(
        cls, cdir: Path, options: StreamOptions, poll_interval: float
    ) -> ProcessAttachSession:
        launch = read_json(cdir / "spec.json")
        if launch is None:
            raise StreamError(f"container not found ({cdir.name})")
        name = launch.get("name", cdir.name)
        if container_state(cdir).status != "running":
            raise StreamError(f"container {name} is not running")
        if options.stdin and not launch.get("stdin"):
            raise StreamError(
                f"stdin is not enabled for container {name}: attach -i needs stdin: true"
            )
        if options.tty and not launch.get("tty"):
            raise StreamError(f"tty is not enabled for container {name}: attach -t needs tty: true")
        session = cls(cdir, options, poll_interval)
        if options.stdin:
            session._stdin = os.open(cdir / "stdin", os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(session._stdin, True)
        return session

    async def read(self) -> tuple[int, bytes] | None:
        while not self._pending:
            if self._ended:
                return None
            running = container_state(self._cdir).status == "running"
            self._pending = self._more()
            if not self._pending and not running:
                self._pending = self._more()  # the last writes before the exit
                self._ended = True
            elif not self._pending:
                await asyncio.sleep(self._poll)
        return self._pending.pop(0)

    def _more(self) -> list[tuple[int, bytes]]:
        data = self._rest + self._log.read()
        if not data and self._rotated():
            self._log.close()
            self._log = open(self._cdir / "container.log", "rb")
            data = self._log.read()
        lines = data.split(b"\n")
        self._rest = lines.pop()
        out = []
        for line in lines:
            entry = parse_entry(line)
            if entry is None:
                continue
            channel = 2 if entry.stream == "stderr" and not self._options.tty else 1
            wanted = self._options.stderr if channel == 2 else self._options.stdout
            if wanted:
                out.append((channel, entry.text if entry.partial else entry.text + b"\n"))
        return out

    def _rotated(self) -> bool:
        try:
            return (
                os.stat(self._cdir / "container.log").st_ino != os.fstat(self._log.fileno()).st_ino
            )
        except OSError:
            return False

    async def write(self, data: bytes) -> None:
        if self._stdin is not None:
            fd = self._stdin
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.write, fd, data)

    async def close_stdin(self) -> None:
        if self._stdin is not None:
            os.close(self._stdin)
            self._stdin = None

    async def resize(self, width: int, height: int) -> None:
        tty = (read_json(self._cdir / "pid.json") or {}).get("tty")
        if not tty or not self._options.tty:
            return
        with contextlib.suppress(OSError):
            fd = os.open(tty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                set_window_size(fd, width, height)
            finally:
                os.close(fd)

    async def wait(self) -> int:
        return 0  # an attach ends well when the container ends, whatever its exit code

    async def close(self) -> None:
        await self.close_stdin()
        self._log.close()

"""A small process supervisor: the heart of ``paas up``.

Each component runs as its own child process (so that it can be killed and
restarted alone, as it would on separate machines). The supervisor starts
them in order, waits for each to become ready, restarts any that exits with
an exponential backoff (reset after a stable run), and on shutdown sends
SIGTERM to all, then SIGKILL to those still running after a grace period.
Children get their own process group so a terminal's Ctrl-C reaches only the
supervisor, which then stops them in order.

A component that exits is reported in the foreground with the last error
line of its own log (read from where this run of it began) and the log's
path, so that a crash loop says why without opening the file; one that keeps
failing says so.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SupervisorSettings:
    backoff_base: float = 0.5  # first restart delay
    backoff_cap: float = 30.0  # longest restart delay
    stable_after: float = 30.0  # a run this long resets the backoff
    stop_grace: float = 10.0  # SIGTERM -> SIGKILL
    keeps_failing: int = 3  # exits in a row before a component is said to keep failing


async def always_ready() -> bool:
    return True


@dataclass
class Component:
    name: str
    argv: Callable[[], list[str]]  # read at every start: a restart keeps ports chosen before
    log_path: Path
    ready: Callable[[], Awaitable[bool]] = always_ready
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    next_start: float = 0.0
    restarts: int = field(default=0)
    log_offset: int = 0  # where this run's output begins in log_path


# A component's own error records ("... node ERROR stopped: ..."), else a Python exception line.
_ERROR_RECORD = re.compile(r"\b(ERROR|CRITICAL)\b")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*")
_TAIL_BYTES = 64 * 1024
_LINE_MAX = 400


def last_error_line(path: Path, offset: int = 0) -> str:
    """The last error a component wrote to ``path`` since ``offset`` ("" when none).

    An ERROR record wins over an exception line of a bare traceback, which
    wins over the last line of any kind.
    """
    try:
        with path.open("rb") as f:
            f.seek(max(offset, f.seek(0, os.SEEK_END) - _TAIL_BYTES))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for pattern in (_ERROR_RECORD, _EXCEPTION_LINE):
        found = [line for line in lines if pattern.search(line)]
        if found:
            return _shorten(found[-1])
    return _shorten(lines[-1]) if lines else ""


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ ")


def _shorten(line: str) -> str:
    line = _TIMESTAMP.sub("", line)  # the time is the moment just reported
    return line if len(line) <= _LINE_MAX else line[: _LINE_MAX - 3] + "..."


def exit_text(code: int) -> str:
    """``status 1`` or ``signal SIGKILL``, as a returncode reads."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


class StartFailed(Exception):
    """A component died while starting, or was not ready in time; the message says why."""


class Supervisor:
    def __init__(self, settings: SupervisorSettings | None = None) -> None:
        self.settings = settings or SupervisorSettings()
        self.components: list[Component] = []

    def add(self, component: Component) -> None:
        self.components.append(component)

    def _spawn(self, c: Component) -> None:
        c.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = c.log_path.open("ab")
        c.log_offset = out.seek(0, os.SEEK_END)
        try:
            c.process = subprocess.Popen(
                c.argv(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            out.close()
        c.started_at = time.monotonic()
        log.info("started %s (pid %d)", c.name, c.process.pid)

    async def start(self, c: Component, timeout: float = 60.0) -> None:
        """Start ``c`` and wait until it is ready; ``StartFailed`` if it dies or takes too long."""
        self._spawn(c)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert c.process is not None
            if c.process.poll() is not None:
                raise StartFailed(
                    f"{c.name} exited with {exit_text(c.process.returncode)} while starting"
                    f"{self._why(c)}\n  log: {c.log_path}"
                )
            if await c.ready():
                return
            await asyncio.sleep(0.05)
        raise StartFailed(
            f"{c.name} did not become ready in {timeout:.0f}s{self._why(c)}\n  log: {c.log_path}"
        )

    def tick(self) -> None:
        """Restart what has died (with backoff). Call periodically."""
        now = time.monotonic()
        s = self.settings
        for c in self.components:
            if c.process is None:
                continue
            code = c.process.poll()
            if code is None:
                if c.failures and now - c.started_at > s.stable_after:
                    c.failures = 0
                continue
            if c.next_start == 0.0:
                c.failures += 1
                delay = min(s.backoff_cap, s.backoff_base * 2 ** (c.failures - 1))
                c.next_start = now + delay
                again = (
                    f" (it keeps failing: {c.failures} exits in a row)"
                    if c.failures >= s.keeps_failing
                    else ""
                )
                log.warning(
                    "%s exited with %s%s; restarting in %.1fs%s\n  log: %s",
                    c.name,
                    exit_text(code),
                    again,
                    delay,
                    self._why(c),
                    c.log_path,
                )
            elif now >= c.next_start:
                c.next_start = 0.0
                c.restarts += 1
                self._spawn(c)

    @staticmethod
    def _why(c: Component) -> str:
        line = last_error_line(c.log_path, c.log_offset)
        return f"\n  last error: {line}" if line else ""

    def stop(self) -> None:
        for c in reversed(self.components):
            if c.process is not None and c.process.poll() is None:
                os.killpg(c.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_grace
        for c in reversed(self.components):
            if c.process is None:
                continue
            try:
                c.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(c.process.pid, signal.SIGKILL)
                c.process.wait()

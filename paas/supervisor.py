"""A small process supervisor: the heart of ``paas up``.

Each component runs as its own child process (so that it can be killed and
restarted alone, as it would on separate machines). The supervisor starts
them in order, waits for each to become ready, restarts any that exits with
an exponential backoff (reset after a stable run), and on shutdown sends
SIGTERM to all, then SIGKILL to those still running after a grace period.
Children get their own process group so a terminal's Ctrl-C reaches only the
supervisor, which then stops them in order.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SupervisorSettings:
    backoff_base: float = 0.5  # first restart delay
    backoff_cap: float = 30.0  # longest restart delay
    stable_after: float = 30.0  # a run this long resets the backoff
    stop_grace: float = 10.0  # SIGTERM -> SIGKILL


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool] = lambda: True
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    next_start: float = 0.0
    restarts: int = field(default=0)


class Supervisor:
    def __init__(self, settings: SupervisorSettings | None = None) -> None:
        self.settings = settings or SupervisorSettings()
        self.components: list[Component] = []

    def add(self, component: Component) -> None:
        self.components.append(component)

    def _spawn(self, c: Component) -> None:
        c.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = c.log_path.open("ab")
        try:
            c.process = subprocess.Popen(
                c.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            out.close()
        c.started_at = time.monotonic()
        log.info("started %s (pid %d)", c.name, c.process.pid)

    def start(self, c: Component, timeout: float = 60.0) -> None:
        """Start ``c`` and wait until it is ready or has died."""
        self._spawn(c)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert c.process is not None
            if c.process.poll() is not None:
                raise RuntimeError(
                    f"{c.name} exited with status {c.process.returncode} while starting; "
                    f"see {c.log_path}"
                )
            if c.ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{c.name} did not become ready in {timeout:.0f}s; see {c.log_path}")

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
                log.warning("%s exited with status %s; restarting in %.1fs", c.name, code, delay)
            elif now >= c.next_start:
                c.next_start = 0.0
                c.restarts += 1
                self._spawn(c)

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

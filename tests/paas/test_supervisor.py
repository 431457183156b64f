"""The supervisor under ``paas up``: real child processes that crash, and what the user is told."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import pytest
from support.wait import wait_until

from paas.supervisor import (
    Component,
    StartFailed,
    Supervisor,
    SupervisorSettings,
    exit_text,
    last_error_line,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


CRASH = (
    "import sys; print('2026-12-07 01:34:28,074 node INFO starting', flush=True); "
    "print('2026-12-07 01:34:28,075 node ERROR stopped: KernelError: iptables: not found', "
    "flush=True); print('a last line of no interest'); sys.exit(1)"
)


def test_the_last_error_record_wins_over_later_lines_and_loses_its_timestamp(
    tmp_path: Path,
) -> None:
    log = tmp_path / "node.log"
    log.write_text(
        "2026-12-07 01:34:28,074 node ERROR stopped: an old run's error\n"
        "2026-12-07 01:35:00,000 node INFO starting\n"
        "2026-12-07 01:35:00,100 node ERROR stopped: NetworkError: ip link add: exists\n"
        "Traceback (most recent call last):\n"
        "  File 'x.py', line 1\n"
        "ValueError: later but only a traceback line\n"
    )
    old_run = len(log.read_text().splitlines()[0]) + 1
    assert last_error_line(log, old_run) == "node ERROR stopped: NetworkError: ip link add: exists"


def test_a_bare_traceback_gives_its_exception_line_and_a_quiet_log_its_last_line(
    tmp_path: Path,
) -> None:
    log = tmp_path / "x.log"
    log.write_text("Traceback (most recent call last):\n  File 'x'\nOSError: [Errno 98] in use\n")
    assert last_error_line(log) == "OSError: [Errno 98] in use"
    log.write_text("just a line\nthe last line\n\n")
    assert last_error_line(log) == "the last line"
    assert last_error_line(tmp_path / "missing.log") == ""


def test_exit_text_names_a_signal() -> None:
    assert exit_text(1) == "status 1"
    assert exit_text(-signal.SIGKILL) == "signal SIGKILL"


async def never() -> bool:
    return False


async def test_a_component_dying_while_starting_fails_the_start_with_its_error_and_log(
    tmp_path: Path,
) -> None:
    sup = Supervisor()
    c = Component("node", lambda: python(CRASH), tmp_path / "logs" / "node.log", ready=never)
    sup.add(c)
    with pytest.raises(StartFailed) as caught:
        await sup.start(c, timeout=30)
    sup.stop()
    said = str(caught.value)
    assert "node exited with status 1 while starting" in said
    assert "last error: node ERROR stopped: KernelError: iptables: not found" in said
    assert f"log: {tmp_path / 'logs' / 'node.log'}" in said


async def test_a_crash_loop_is_reported_with_its_last_error_and_said_to_keep_failing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="paas.supervisor")
    sup = Supervisor(SupervisorSettings(backoff_base=0.01, backoff_cap=0.05, keeps_failing=3))
    c = Component("node", lambda: python(CRASH), tmp_path / "node.log")
    sup.add(c)
    await sup.start(c, timeout=30)  # ready at once: it has not died yet
    try:

        def reported(n: int) -> bool:
            sup.tick()
            return sum("node exited with status 1" in r.message for r in caplog.records) >= n

        wait_until(lambda: reported(3), 30, "three exits reported")
    finally:
        sup.stop()
    messages = [r.message for r in caplog.records if "node exited" in r.message]
    assert all("last error: node ERROR stopped: KernelError: iptables" in m for m in messages)
    assert all(f"log: {tmp_path / 'node.log'}" in m for m in messages)
    assert "keeps failing" not in messages[0]
    assert "it keeps failing: 3 exits in a row" in messages[2]
    assert c.restarts >= 2


async def test_a_component_not_ready_in_time_fails_the_start_and_is_stopped(
    tmp_path: Path,
) -> None:
    sup = Supervisor(SupervisorSettings(stop_grace=5))
    c = Component(
        "dns", lambda: python("import time; time.sleep(60)"), tmp_path / "dns.log", ready=never
    )
    sup.add(c)
    try:
        with pytest.raises(StartFailed, match="dns did not become ready in 1s"):
            await sup.start(c, timeout=1)
    finally:
        sup.stop()
    assert c.process is not None and c.process.returncode == -signal.SIGTERM

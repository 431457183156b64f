"""Running one build child (``builder.buildrun``): limits, time limit, cancel, output lines.

The child runs in its own session with ``RLIMIT_DATA`` (memory) and
``RLIMIT_CPU`` set before it executes, and stdin from /dev/null. The memory
rlimit is a backstop ``MEMORY_BACKSTOP`` above the build's limit: the
default build function confines its build itself at exactly that limit (a
cgroup that counts OOM kills, builder/isolation.py) and must be the one to
hit it, to say the build ran out of memory; ``RLIMIT_AS`` would stop node
and npm from starting at all (V8 reserves gigabytes of address space). Its
stdout and stderr are one stream, read line by line and handed to
``on_line`` as they come. It ends in one of three ways:

- it exits: 0 with a result file is Succeeded, anything else Failed;
- the wall-clock time limit passes: its process group is killed (SIGTERM,
  then SIGKILL after the grace period) and the build Failed, saying so;
- ``cancel(reason)`` (a newer push to the branch): the same kill, and the
  build is Cancelled with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from builder.buildrun import BuildContext
from builder.settings import BuilderSettings

LINE_LIMIT = 1 << 20  # a build may print long lines (minified output); cut, never crash
MEMORY_BACKSTOP = 256 << 20  # above the build's own limit: the build's own confinement decides


@dataclass(frozen=True)
class Outcome:
    phase: str  # Succeeded, Failed or Cancelled
    result: str = ""  # the image reference built
    message: str = ""


class BuildProcess:
    def __init__(self, settings: BuilderSettings, source: Path, context: BuildContext) -> None:
        self.settings = settings
        self.source = source
        self.context = context
        self._cancelled = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._stop = asyncio.Event()

    def cancel(self, reason: str) -> None:
        self._cancelled = self._cancelled or reason
        self._stop.set()

    async def run(self, on_line: Callable[[str], Awaitable[None]]) -> Outcome:
        s = self.settings
        result_file = self.source.with_name(self.source.name + ".result.json")
        argv = [
            sys.executable,
            "-m",
            "builder.buildrun",
            "--function",
            s.build_function,
            "--source",
            str(self.source),
            "--result",
            str(result_file),
            "--context",
            json.dumps(asdict(self.context)),
        ]
        memory, cpu = s.build_memory + MEMORY_BACKSTOP, max(1, int(s.build_timeout))

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))

        if self._stop.is_set():
            return Outcome("Cancelled", message=self._cancelled)
        self._proc = proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=str(self.source),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
            preexec_fn=limit,
            limit=LINE_LIMIT,
        )
        reader = asyncio.create_task(self._read(proc, on_line))
        stopper = asyncio.create_task(self._stop.wait())
        try:
            done, _ = await asyncio.wait(
                {reader, stopper}, timeout=s.build_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if reader not in done:
                await self._kill(proc)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
                if self._cancelled:
                    return Outcome("Cancelled", message=self._cancelled)
                return Outcome(
                    "Failed",
                    message=f"the build ran past its time limit ({s.build_timeout:g}s) "
                    "and was stopped",
                )
            code = await proc.wait()
        finally:
            stopper.cancel()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # what the build left behind
        try:
            result = json.loads(result_file.read_text())
        except (OSError, ValueError):
            result = {}
        finally:
            result_file.unlink(missing_ok=True)
        if code == 0 and isinstance(result, dict) and "result" in result:
            return Outcome("Succeeded", result=str(result["result"]))
        if code == 0:
            return Outcome("Failed", message="the build ended without a result")
        error = result.get("error") if isinstance(result, dict) else None
        return Outcome("Failed", message=str(error) if error else _exit_reason(code))

    async def _read(
        self, proc: asyncio.subprocess.Process, on_line: Callable[[str], Awaitable[None]]
    ) -> None:
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line over LINE_LIMIT: take what there is
                raw = await proc.stdout.read(LINE_LIMIT)
            if not raw:
                return
            await on_line(raw.decode(errors="replace").rstrip("\r\n"))

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.settings.cancel_grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


def _exit_reason(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        if -code == signal.SIGXCPU:
            return "the build used up its CPU time limit and was stopped"
        return f"the build was killed by {name} (out of memory?)"
    return f"the build failed (exit status {code})"

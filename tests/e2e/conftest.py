"""Helpers for end-to-end tests with the real clients: kubectl in a subprocess.

``kubectl`` runs ``kubectl_binary`` (the dispatcher on PATH unless a test
module overrides that fixture with one of the machine's versioned binaries,
``KUBECTL_VERSIONS``) against a ``RunningAPI`` with its kubeconfig, a fresh
discovery cache (a stale one can hide resources), stdin from /dev/null
(kubectl may prompt for credentials otherwise) and a timeout.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI
from support.engines import require_engine

KUBECTL_TIMEOUT = 30.0

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def kubectl_args(
    api: RunningAPI, cache_dir: Path, *args: str, binary: str = "kubectl"
) -> list[str]:
    return [binary, "--kubeconfig", str(api.kubeconfig), "--cache-dir", str(cache_dir), *args]


def kubectl_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(home)  # no ~/.kube of the developer's
    return env


@pytest.fixture
def kubectl_binary() -> str:
    """The kubectl a test runs: the dispatcher on PATH, which picks by the server's version."""
    return "kubectl"


@pytest.fixture
def kubectl(api: RunningAPI, tmp_path: Path, kubectl_binary: str) -> Kubectl:
    """``kubectl(*args, check=True)`` runs kubectl against ``api`` and returns the result.

    With ``check`` (the default) a non-zero exit fails the test with kubectl's output.
    """
    require_engine("kubectl", shutil.which(kubectl_binary) is not None, f"{kubectl_binary} missing")
    cache_dir = tmp_path / "kube-cache"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def run(
        *args: str, check: bool = True, timeout: float = KUBECTL_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            kubectl_args(api, cache_dir, *args, binary=kubectl_binary),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=kubectl_env(home),
            cwd=tmp_path,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"kubectl {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
                pytrace=False,
            )
        return result

    run.binary = kubectl_binary  # type: ignore[attr-defined]
    run.cache_dir = cache_dir  # type: ignore[attr-defined]
    run.home = home  # type: ignore[attr-defined]
    return run


class LineReader:
    """Lines of a running process's stdout, read in a thread, awaited with a deadline."""

    def __init__(self, proc: subprocess.Popen[str], stderr: Path | None = None) -> None:
        self.proc = proc
        self.stderr = stderr
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def close(self) -> None:
        """Kill the process and release its pipes."""
        self.proc.kill()
        self.proc.wait(10)
        self._thread.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def _so_far(self) -> str:
        err = self.stderr.read_text() if self.stderr is not None and self.stderr.exists() else ""
        return f"lines so far: {self.lines}; stderr: {err!r}"

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The first new line that satisfies ``predicate``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(
                    f"the process ended (exit {self.proc.wait()}) before the expected "
                    f"line; {self._so_far()}",
                    pytrace=False,
                )
            self.lines.append(line)
            if predicate(line):
                return line
        pytest.fail(f"no expected line within {timeout}s; {self._so_far()}", pytrace=False)


@pytest.fixture
def kubectl_stream(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> Iterator[Callable[..., LineReader]]:
    """``kubectl_stream(*args)`` starts a long-running kubectl (``get -w``); killed at teardown."""
    readers: list[LineReader] = []

    def start(*args: str) -> LineReader:
        stderr = tmp_path / f"kubectl-stream-{len(readers)}.err"
        with stderr.open("w") as err:
            proc = subprocess.Popen(
                kubectl_args(
                    api,
                    kubectl.cache_dir,  # type: ignore[attr-defined]
                    *args,
                    binary=kubectl.binary,  # type: ignore[attr-defined]
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=kubectl_env(kubectl.home),  # type: ignore[attr-defined]
            )
        readers.append(LineReader(proc, stderr))
        return readers[-1]

    yield start
    for reader in readers:
        reader.close()

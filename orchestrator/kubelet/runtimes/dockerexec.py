"""Running things inside a container of the engine: exec (probes, preStop hooks), and the check
that a container's command exists before it starts (and before an interactive exec).

An exec inherits the container's env and working dir from the engine. Its
output (stdout and stderr together) is kept up to a limit and the rest
drained. Past the deadline a timer kills the exec'd process by its host PID
(the engine reports it; a remote engine's PIDs are out of reach, and then the
stream is only cut) and the result says ``timed_out``, so a hung probe costs
its timeout and no more. A container that is not running answers exit code
126 with the engine's message, which a probe counts as a failure.

The command check exists because every container runs under the engine's
init (tini): the engine then starts any container, and a command that is not
in the image only shows as tini exiting 127 with a note in the logs. The
kubelet's ``RunContainerError`` naming the command is what a user needs, so
the created container's file system is asked first (a HEAD of the engine's
archive endpoint per candidate path, as the engine itself would search
``PATH``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any

import docker
import docker.errors
import requests

from orchestrator.kubelet.runtimes.base import ContainerStartError, ExecResult
from orchestrator.kubelet.runtimes.dockerlogs import OwnStream
from orchestrator.kubelet.runtimes.dockerspec import executable_candidates

ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException)


def run_exec(
    api: docker.APIClient,
    stream_api: docker.APIClient,
    cid: str,
    argv: list[str],
    timeout: float,
    limit: int,
) -> ExecResult:
    """Run ``argv`` in container ``cid`` (blocking); at most ``limit`` bytes of output kept.

    The output stream comes through ``stream_api``, a client of its own that
    is closed here: a timeout cuts it from the timer's thread (``OwnStream``).
    """
    try:
        exec_id = api.exec_create(cid, argv, stdout=True, stderr=True)["Id"]
    except docker.errors.APIError as exc:
        stream_api.close()
        if exc.status_code == 409:  # not running
            return ExecResult(126, str(exc.explanation or exc).encode())
        raise
    try:
        stream = OwnStream(stream_api, stream_api.exec_start(exec_id, stream=True))
    except BaseException:
        stream_api.close()
        raise
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        with contextlib.suppress(*ENGINE_ERRORS, OSError):
            pid = int(api.exec_inspect(exec_id).get("Pid") or 0)
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
        stream.close()

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    output = bytearray()
    try:
        for chunk in stream:
            if len(output) < limit:
                output += chunk[: limit - len(output)]
    except Exception:
        if not timed_out.is_set():  # else: expire() cut the stream, as meant
            raise
    finally:
        timer.cancel()
        stream.close()
    info: Any = api.exec_inspect(exec_id)
    deadline = time.monotonic() + 2.0  # a killed exec is reaped by the engine a moment later
    while timed_out.is_set() and info.get("Running") and time.monotonic() < deadline:
        time.sleep(0.02)
        info = api.exec_inspect(exec_id)
    code = info.get("ExitCode")
    return ExecResult(code if isinstance(code, int) else -1, bytes(output), timed_out.is_set())


def check_executable(api: docker.APIClient, cid: str) -> None:
    """Raise RunContainerError when the created container's command is not in its image."""
    config = api.inspect_container(cid).get("Config") or {}
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not argv:
        return  # the engine refused to create it already
    missing = missing_command(api, cid, argv[0], config)
    if missing:
        raise ContainerStartError("RunContainerError", missing)


def missing_command(api: docker.APIClient, cid: str, program: str, config: Any) -> str:
    """Why ``program`` cannot run in the container (exec's words), or "" when it can.

    ``config`` is the container's ``Config`` (its env's PATH and working dir count).
    """
    env = dict(entry.partition("=")[::2] for entry in config.get("Env") or [])
    candidates = executable_candidates(
        program, env.get("PATH", ""), config.get("WorkingDir") or "/"
    )
    if any(path_exists(api, cid, path) for path in candidates):
        return ""
    where = "executable file not found in $PATH" if "/" not in program else "no such file"
    return f'exec: "{program}": {where}'


def path_exists(api: docker.APIClient, cid: str, path: str) -> bool:
    """Whether ``path`` exists in the container's file system (404 from the archive endpoint
    means it does not; any other answer lets the engine decide at start)."""
    response = api.head(api._url("/containers/{0}/archive", cid), params={"path": path})
    try:
        return response.status_code != 404
    finally:
        response.close()

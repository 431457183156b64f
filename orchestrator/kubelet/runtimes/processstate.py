"""What a process runtime container's records say about it: created, running or exited.

A container's state is read from its directory every time, never cached:
``spec.json`` alone is a container that was never started (or whose start
never reported back), ``pid.json`` a started one, and ``exit.json`` one that
ended. A container counts as running while its supervisor or its app is
still the process that was started (PIDs are checked against their start
time, so a reused PID does not count).

The supervisor writes ``exit.json`` just before it ends. When it is gone
and the app too but there is no exit status (it was SIGKILLed, the machine
went down), the status is recorded here as lost: exit code 137 and a message
saying why, so that every later read agrees and the pod status can say what
happened.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.kubelet.runtimes.base import ContainerState
from orchestrator.kubelet.runtimes.processlayout import alive, read_json, write_json


def _from_ns(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC)


def container_state(cdir: Path) -> ContainerState:
    """The state of the container in ``cdir``, as its records have it now."""
    launch = read_json(cdir / "spec.json") or {}
    pid_info = read_json(cdir / "pid.json")
    exit_info = read_json(cdir / "exit.json")
    common: dict[str, Any] = {
        "id": launch.get("id", ""),
        "pod_uid": launch.get("pod_uid", ""),
        "name": launch.get("name", ""),
        "attempt": launch.get("attempt", 0),
        "image": launch.get("image", ""),
        "image_id": launch.get("image_id", ""),
        "init": launch.get("init", False),
        "started_at": _from_ns(pid_info.get("started_ns")) if pid_info else None,
    }
    if pid_info is None:
        return ContainerState(status="created", **common)
    if exit_info is None:
        if alive(pid_info["supervisor"], pid_info["supervisor_start"]) or alive(
            pid_info["pid"], pid_info["pid_start"]
        ):
            return ContainerState(status="running", **common)
        exit_info = read_json(cdir / "exit.json")
        if exit_info is None:
            record_lost_exit(cdir, "its supervisor ended without an exit status")
            exit_info = read_json(cdir / "exit.json") or {}
    code = int(exit_info.get("exit_code", 137))
    if exit_info.get("oom_killed"):
        reason, message = "OOMKilled", ""
    elif exit_info.get("lost"):
        reason, message = "Error", str(exit_info["lost"])
    else:
        reason, message = ("Completed" if code == 0 else "Error"), ""
    return ContainerState(
        status="exited",
        finished_at=_from_ns(exit_info.get("finished_ns")),
        exit_code=code,
        reason=reason,
        message=message,
        **common,
    )


def record_lost_exit(cdir: Path, why: str) -> None:
    """Write exit.json for a container that ended without one (unless it has one by now).

    FileNotFoundError when ``cdir`` is being removed: its records are going, not lost.
    """
    if not (cdir / "spec.json").exists():
        raise FileNotFoundError(cdir / "spec.json")
    if not (cdir / "exit.json").exists():
        write_json(
            cdir / "exit.json",
            {"exit_code": 137, "signal": None, "finished_ns": time.time_ns(), "lost": why},
        )

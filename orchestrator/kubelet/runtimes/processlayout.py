"""Where the process runtime keeps its state on disk, and how a record is read and written.

Everything the runtime knows lives under its ``state_dir``, so that a new
runtime on the same directory adopts what runs (the agent keeps nothing that
matters only in memory)::

    pods/<pod uid>/sandbox.json        the sandbox (IP, netns, hostname)
    pods/<pod uid>/resolv.conf, hosts  bound over /etc/... in the pod (root)
    pods/<pod uid>/work/<container>/   the default working dir of a container
    pods/<pod uid>/containers/<container>.<attempt>/
        spec.json    what the supervisor runs (argv, env, cwd, cgroups, netns)
        pid.json     the signal target, its start time (PID reuse guard)
        exit.json    exit code, signal, finished time, OOM flag
        container.log, container.log.1, ...   CRI log files, rotated by size

A container's ID is ``process://<pod uid>.<container>.<attempt>``: stable,
and enough to find its directory; an ID of another shape raises
``LookupError``. A pod uid or container name that could not name a
directory (empty, ``..``, a slash) raises ``ValueError`` before any path is
made from it.

Records are small JSON files written whole to a temporary name and renamed,
so a reader sees the old record or the new one, never half of one; a record
that is missing or unreadable reads as None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.kubelet.supervise import proc_start_ticks

ID_PREFIX = "process://"


def container_id(pod_uid: str, name: str, attempt: int) -> str:
    return f"{ID_PREFIX}{pod_uid}.{name}.{attempt}"


def parse_id(cid: str) -> tuple[str, str, int]:
    """(pod uid, container name, attempt) of a container ID; LookupError if it is not ours."""
    if not cid.startswith(ID_PREFIX):
        raise LookupError(f"{cid!r} is not a process runtime container ID")
    try:
        pod_uid, name, attempt = cid[len(ID_PREFIX) :].rsplit(".", 2)
        return pod_uid, name, int(attempt)
    except ValueError:
        raise LookupError(f"{cid!r} is not a process runtime container ID") from None


def safe_part(value: str, what: str) -> str:
    """``value`` if it can be one path component; ValueError naming ``what`` otherwise."""
    if not value or "/" in value or value in (".", "..") or "\0" in value:
        raise ValueError(f"{what} {value!r} cannot name a directory")
    return value


@dataclass(frozen=True)
class Layout:
    """The paths under one state dir (see the module docstring)."""

    state_dir: Path

    @property
    def pods(self) -> Path:
        return self.state_dir / "pods"

    def pod_dir(self, pod_uid: str) -> Path:
        return self.pods / safe_part(pod_uid, "pod uid")

    def container_dir(self, cid: str) -> Path:
        pod_uid, name, attempt = parse_id(cid)
        return self.pod_dir(pod_uid) / "containers" / f"{name}.{attempt}"

    def pod_dirs(self) -> list[Path]:
        return sorted(self.pods.iterdir()) if self.pods.is_dir() else []

    def container_dirs(self, pod_uid: str | None = None) -> list[Path]:
        """Every container dir of the pod (or of the node), attempts included, in name order."""
        if pod_uid is None:
            return sorted(self.pods.glob("*/containers/*"))
        cdirs = self.pod_dir(pod_uid) / "containers"
        return sorted(cdirs.iterdir()) if cdirs.is_dir() else []


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.rename(path)


def alive(pid: int | None, start: int | None) -> bool:
    """The process exists and is the one we started (not a reused PID)."""
    return bool(pid) and start is not None and proc_start_ticks(int(pid)) == start  # type: ignore[arg-type]

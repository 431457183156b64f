"""A build is a process tree under limits: killed at its time limit, memory limit, or a cancel.

The misbehaving step is a Node build script (``scripts.build``), which runs
during the build as a repository's own code does.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from builder.build import BuildCancelled, BuildFailed, BuildSettings, build


def node_app(root: Path, build_script: str) -> Path:
    root.mkdir()
    package = {"name": "limits", "version": "1.0.0", "scripts": {"build": build_script}}
    (root / "package.json").write_text(json.dumps(package))
    (root / "server.js").write_text("require('http').createServer().listen(process.env.PORT)\n")
    return root


def running(marker: str) -> list[int]:
    """Pids of processes whose command line holds ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_a_build_past_its_time_limit_is_killed_with_everything_it_started(
    tmp_path: Path, build_settings: BuildSettings
) -> None:
    marker = f"{os.getpid()}{threading.get_ident() % 1000}.5"
    source = node_app(tmp_path / "src", f"sleep {marker} & sleep {marker}")
    settings = replace(build_settings, time_limit_s=4, kill_grace_s=0.5)
    with pytest.raises(BuildFailed, match="longer than its time limit of 4 s"):
        build(source, lambda line: None, settings)
    assert running(f"sleep {marker}") == []


def test_a_build_that_fills_its_memory_limit_fails_saying_so(
    tmp_path: Path, build_settings: BuildSettings
) -> None:
    hog = 'node -e "const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))"'
    source = node_app(tmp_path / "src", hog)
    settings = replace(build_settings, memory_limit_bytes=300 << 20)
    with pytest.raises(BuildFailed, match=r"ran out of memory \(limit 300 MiB\)"):
        build(source, lambda line: None, settings)


def test_a_cancelled_build_stops_at_once(tmp_path: Path, build_settings: BuildSettings) -> None:
    source = node_app(tmp_path / "src", "sleep 600")
    cancel = threading.Event()

    def out(line: str) -> None:
        if "Running build" in line:
            cancel.set()

    with pytest.raises(BuildCancelled):
        build(source, out, build_settings, cancel)

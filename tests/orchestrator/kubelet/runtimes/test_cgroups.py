"""cgroups: limits written where the kernel reads them, OOM kills counted, kill-all, removal.

The v1 tests use the real hierarchy of this machine (root only). The v2 test
runs against a directory laid out like a cgroup2 mount, since no v2
controllers are mounted here: it checks which files get which values, which
is all the v2 code does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engines import require_engine

from orchestrator.kubelet import cgroups
from orchestrator.kubelet.runtimes.base import Limits
from orchestrator.kubelet.supervise import join_cgroups, oom_kills


@pytest.fixture
def v1() -> Iterator[tuple[cgroups.Cgroups, str]]:
    require_engine("root", os.geteuid() == 0, "needs root (cgroup filesystem)")
    found = cgroups.detect()
    if found is None or found.version != 1:
        pytest.skip("no writable cgroup v1 hierarchy on this machine")
    node = f"cgtest-{uuid.uuid4().hex[:8]}"
    try:
        yield found, node
    finally:
        found.remove_tree([node])


def _join_and_run(procs_files: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    """A Python child that joins the cgroups before it runs ``code`` (as the supervisor does)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=lambda: join_cgroups(list(procs_files)),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.root
def test_v1_limits_are_written_and_the_memory_limit_kills(
    v1: tuple[cgroups.Cgroups, str],
) -> None:
    group, node = v1
    handle = group.create(
        [node, "pod", "c.0"], Limits(cpu_millis=250, memory_bytes=48 << 20), 100_000
    )
    memory_dir, cpu_dir, *accounting = (Path(d) for d in handle.dirs)
    assert int((memory_dir / "memory.limit_in_bytes").read_text()) <= 48 << 20
    assert (cpu_dir / "cpu.cfs_quota_us").read_text().strip() == "25000"
    assert (cpu_dir / "cpu.cfs_period_us").read_text().strip() == "100000"
    assert oom_kills([list(p) for p in handle.oom_files]) == 0
    done = _join_and_run(handle.procs_files, "x = bytearray(200 << 20); print('survived')")
    assert done.returncode == -9 and "survived" not in done.stdout
    assert oom_kills([list(p) for p in handle.oom_files]) >= 1
    for directory in accounting:  # a cpuacct hierarchy of its own: the CPU time is counted
        assert int((directory / "cpuacct.usage").read_text()) > 0
    group.remove(handle.dirs)
    assert not memory_dir.exists() and not cpu_dir.exists()


@pytest.mark.root
def test_v1_kill_all_and_remove_tree(v1: tuple[cgroups.Cgroups, str]) -> None:
    group, node = v1
    handle = group.create([node, "pod", "c.0"], Limits(), 100_000)
    sleeper = subprocess.Popen(
        ["sleep", "300"], preexec_fn=lambda: join_cgroups(list(handle.procs_files))
    )
    try:
        procs = Path(handle.procs_files[0]).read_text().split()
        assert str(sleeper.pid) in procs
        group.kill_all(handle.dirs)
        assert sleeper.wait(timeout=10) == -9
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
    group.remove_tree([node])
    assert all(not Path(d).exists() for d in handle.dirs)
    assert not Path(handle.dirs[0]).parent.parent.exists()  # the node's directory too


def test_v2_writes_limits_and_enables_controllers_down_the_path(tmp_path: Path) -> None:
    root = tmp_path / "cgroup2"
    leaf = root / "paas" / "node" / "pod" / "c.0"
    # what the kernel puts in each new cgroup directory, made beforehand
    for directory in (root, *leaf.parents[:4], leaf):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cgroup.controllers").write_text("cpu io memory pids\n")
        (directory / "cgroup.subtree_control").write_text("")
    (leaf / "memory.swap.max").write_text("max\n")
    group = cgroups.CgroupsV2(root, "paas")
    limits = Limits(cpu_millis=1500, memory_bytes=1 << 30)
    handle = group.create(["node", "pod", "c.0"], limits, 100_000)
    assert handle.dirs == (str(leaf),)
    assert handle.procs_files == (str(leaf / "cgroup.procs"),)
    assert (leaf / "memory.max").read_text() == str(1 << 30)
    assert (leaf / "memory.swap.max").read_text() == "0"
    assert (leaf / "cpu.max").read_text() == "150000 100000"
    for directory in (root, *leaf.parents[:3]):
        assert (directory / "cgroup.subtree_control").read_text() == "+memory +cpu"
    assert (leaf / "cgroup.subtree_control").read_text() == ""
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert oom_kills([list(p) for p in handle.oom_files]) == 1


def test_no_limits_with_isolation_off(tmp_path: Path) -> None:
    from orchestrator.kubelet.runtimes.process import ProcessRuntime, ProcessRuntimeSettings

    rt = ProcessRuntime(tmp_path, "n", ProcessRuntimeSettings(network="loopback", isolation="off"))
    assert rt.cgroups is None
    assert any("memory and CPU limits are not enforced" in text for text in rt.limitations)
    assert any("measured per process group from /proc" in text for text in rt.limitations)

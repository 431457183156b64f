"""Pushes that race, and a big one: one branch builds one push at a time, the newest wins."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from support.gitpush import GitUser, RunningBuilder, builds_of
from support.wait import wait_until


def start_push(user: GitUser, remote: str, branch: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["git", "push", remote, branch],
        cwd=user.tree,
        env=user.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def collect(proc: subprocess.Popen[str], lines: list[str]) -> threading.Thread:
    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def two_clones(builder: RunningBuilder, tmp_path: Path) -> tuple[GitUser, GitUser]:
    first = GitUser(tmp_path / "first", "first")
    base = first.commit({"a": "base"})
    assert first.push(builder.remote("shop"), "main").returncode == 0
    second = GitUser(tmp_path / "second", "second")
    second.git("fetch", "-q", builder.remote("shop"), "main")
    second.git("reset", "-q", "--hard", base)
    return first, second


def test_a_newer_push_cancels_the_older_build_and_wins(
    builder: RunningBuilder, tmp_path: Path
) -> None:
    first, second = two_clones(builder, tmp_path)
    first.commit({"SLOW": "30"}, "slow")
    newer = second.commit({"b": "newer"}, "newer")
    out: list[str] = []
    slow = start_push(first, builder.remote("shop"), "main")
    reader = collect(slow, out)
    wait_until(lambda: any("step 1" in line for line in out), 30, "the slow build did not start")
    done = second.push(builder.remote("shop"), "main")
    assert done.returncode == 0, done.stderr
    assert slow.wait(30) == 1
    reader.join(10)
    assert slow.stdout is not None
    slow.stdout.close()
    text = "".join(out)
    assert "Build cancelled: superseded by a newer push to this branch" in text
    assert "(pre-receive hook declined)" in text
    head = second.git("ls-remote", builder.remote("shop"), "refs/heads/main").stdout.split()[0]
    assert head == newer
    phases = {b["spec"]["commit"]: b["status"]["phase"] for b in builds_of(builder, "shop")}
    assert phases[newer] == "Succeeded"
    assert sorted(phases.values()) == ["Cancelled", "Succeeded", "Succeeded"]


def test_a_200_mb_push_is_received_and_built(builder: RunningBuilder, dev: GitUser) -> None:
    with (dev.tree / "big.bin").open("wb") as f:
        for _ in range(200):
            f.write(os.urandom(1 << 20))
    dev.git("add", "big.bin")
    dev.git("commit", "-q", "-m", "big")
    done = dev.git("push", builder.remote("shop"), "main", check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "files: big.bin" in done.stderr
    [build] = builds_of(builder, "shop")
    assert build["status"]["phase"] == "Succeeded"

"""The builder's hooks are (re)installed at every push, while other pushes may be running them."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from builder.hooks import install_hooks


def test_an_unchanged_hook_is_left_alone_and_a_changed_one_is_replaced_whole(
    tmp_path: Path,
) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "r.git")], check=True)
    repo = tmp_path / "r.git"
    install_hooks(repo, "/usr/bin/python3")
    hook = repo / "hooks" / "pre-receive"
    first = hook.stat()
    assert os.access(hook, os.X_OK) and not list((repo / "hooks").glob("*.sample"))
    install_hooks(repo, "/usr/bin/python3")
    assert hook.stat().st_ino == first.st_ino  # not rewritten: a running git keeps its file
    install_hooks(repo, "/opt/other/python3")
    assert hook.stat().st_ino != first.st_ino  # a new file renamed over the old one
    assert "/opt/other/python3" in hook.read_text() and os.access(hook, os.X_OK)
    assert [p.name for p in (repo / "hooks").iterdir()] == ["pre-receive"]


def test_hooks_installed_while_they_run_never_fail_to_start(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "r.git")], check=True)
    repo = tmp_path / "r.git"
    install_hooks(repo, "/bin/true")
    hook = repo / "hooks" / "pre-receive"
    failures: list[str] = []
    stop = threading.Event()

    def installer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            install_hooks(repo, f"/bin/true-{n % 2}")  # a change every time

    thread = threading.Thread(target=installer)
    thread.start()
    try:
        for _ in range(200):
            try:
                subprocess.run([str(hook)], input=b"", capture_output=True, timeout=10, check=False)
            except OSError as exc:  # ETXTBSY ("Text file busy") or a half-written file
                failures.append(str(exc))
    finally:
        stop.set()
        thread.join()
    assert failures == []

"""Whether the kernel takes a piece of iptables-restore text, without changing anything."""

from __future__ import annotations

import os
import shutil
import subprocess

from support.engines import require_engine


def assert_kernel_accepts(text: str) -> None:
    """``iptables-restore --test`` parses every rule (matches and targets exist); nothing is
    applied. Needs root: a skip here, a failure in CI."""
    usable = os.geteuid() == 0 and shutil.which("iptables-restore") is not None
    require_engine("iptables", usable, "needs root and iptables-restore")
    done = subprocess.run(
        ["iptables-restore", "-w", "--test", "--noflush"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

"""``paas up`` refuses flags that cannot work before it starts anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def up(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", "up", "--data-dir", str(tmp_path / "d"), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_a_malformed_dns_upstream_is_refused_naming_the_flag(tmp_path: Path) -> None:
    done = up(tmp_path, "--dns-upstream", "192.0.2.1:99999")
    assert done.returncode == 2
    assert "--dns-upstream" in done.stderr and "port must be a number" in done.stderr
    assert not (tmp_path / "d").exists()  # nothing was made


def test_loopback_networking_is_refused_for_docker_pods(tmp_path: Path) -> None:
    done = up(tmp_path, "--network", "loopback", "--runtime", "docker", "--api-port", "0")
    assert done.returncode == 2
    assert "--network loopback is for the process runtime" in done.stderr
    assert not (tmp_path / "d").exists()

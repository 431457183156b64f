"""What a real node reports about its machine."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.kubelet.machine import machine_capacity, memory_kib, os_image


def test_capacity_is_this_machine() -> None:
    capacity = machine_capacity()
    assert capacity["cpu"] == str(os.cpu_count())
    assert capacity["pods"] == "110"
    assert capacity["memory"].endswith("Ki") and int(capacity["memory"][:-2]) > 0


def test_meminfo_and_os_release_parsing(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        8038124 kB\nMemFree:  1 kB\n")
    assert memory_kib(meminfo) == 8038124
    assert memory_kib(tmp_path / "missing") is None
    release = tmp_path / "os-release"
    release.write_text('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    assert os_image(release) == "Debian GNU/Linux 12 (bookworm)"
    assert os_image(tmp_path / "missing") == "Linux"

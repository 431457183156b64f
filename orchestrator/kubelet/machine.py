"""What the node agent reports about the machine it runs on: capacity and system name.

Read once when the agent starts (never at import): CPUs from
``os.cpu_count()``, memory from ``/proc/meminfo`` (``MemTotal``, in Ki as
Kubernetes writes it), 110 pods (the kubelet's default ``maxPods``), and the
system's name from ``/etc/os-release`` for ``nodeInfo.osImage``.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_PODS = 110


def memory_kib(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def machine_capacity() -> dict[str, str]:
    """``{"cpu": "2", "memory": "8038124Ki", "pods": "110"}`` for this machine."""
    capacity = {"cpu": str(os.cpu_count() or 1), "pods": str(MAX_PODS)}
    kib = memory_kib()
    capacity["memory"] = f"{kib}Ki" if kib else "1Gi"
    return capacity


def os_image(release: Path = Path("/etc/os-release")) -> str:
    """``PRETTY_NAME`` of the system ("Debian GNU/Linux 12 (bookworm)")."""
    try:
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"') or "Linux"
    except OSError:
        pass
    return "Linux"

"""The machine's kubectl binaries: one per minor version, beside the dispatcher.

The machine's kubectl on PATH is a dispatcher that reads the server's
``/version`` and runs ``kubectl.1.NN`` of that minor. Tests that must try
every client name the binaries directly.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from support.engines import require_engine

# Where the machine's kubectl dispatcher keeps one binary per minor version (kubectl.1.NN).
KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")


def kubectl_versions() -> list[str]:
    """The minor versions the machine has as ``kubectl.1.NN``, oldest first ("1.27", ...)."""
    found = [p.name.removeprefix("kubectl.") for p in KUBECTL_DIR.glob("kubectl.1.*")]
    return sorted(found, key=lambda v: tuple(int(n) for n in v.split(".")))


def versioned_kubectl(version: str) -> str:
    """The path of kubectl ``version`` ("1.27"), or the dispatcher on PATH for "dispatcher"."""
    if version == "dispatcher":
        return "kubectl"
    return str(KUBECTL_DIR / f"kubectl.{version}")


KUBECTL_VERSIONS = kubectl_versions()


def kubectl_argv(version: str, home: Path, connection: Sequence[str], *args: str) -> list[str]:
    """kubectl ``version`` (required: CI fails without it) with ``connection`` flags
    (``--kubeconfig F``, or ``--server``/``--token``/...) and a cache under ``home``."""
    binary = KUBECTL_DIR / f"kubectl.{version}"
    require_engine("kubectl", binary.exists(), f"{binary} missing")
    return [str(binary), *connection, "--cache-dir", str(home / "cache"), *args]


def kubectl_env(home: Path) -> dict[str, str]:
    """The environment without the caller's KUBE* settings, with ``home`` as HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["HOME"] = str(home)
    return env


def run_kubectl(
    version: str, home: Path, connection: Sequence[str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run kubectl ``version`` once (60 s at most), its output captured; never raises on exit."""
    return subprocess.run(
        kubectl_argv(version, home, connection, *args),
        capture_output=True,
        text=True,
        env=kubectl_env(home),
        input=stdin,
        timeout=60,
        check=False,
    )

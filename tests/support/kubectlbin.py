"""The machine's kubectl binaries: one per minor version, beside the dispatcher.

The machine's kubectl on PATH is a dispatcher that reads the server's
``/version`` and runs ``kubectl.1.NN`` of that minor. Tests that must try
every client name the binaries directly.
"""

from __future__ import annotations

from pathlib import Path

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

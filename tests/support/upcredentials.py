"""Stand-in credentials for tests that only read the command lines ``paas up`` builds.

``UpComponents`` names each component's own kubeconfig (``Credentials.kubeconfig``);
argv tests need the path, not the files.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast


def kubeconfigs_in(directory: Path) -> Any:
    return cast(Any, SimpleNamespace(kubeconfig=lambda component: directory / f"{component}.kc"))

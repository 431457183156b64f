"""Which way a repository builds, decided from the files at its root, first match wins.

Order (the issue's): ``Dockerfile`` -> ``docker build``; then the buildpacks,
Python (``requirements.txt`` or ``pyproject.toml``), Node (``package.json``),
static (``public/index.html`` or ``index.html``). A Dockerfile wins because
its author said exactly how to build; static comes last because almost every
language app also has an ``index.html`` somewhere. A repository nothing
recognises fails with the whole list, so the pusher sees what to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from builder.buildpacks import node, python, static
from builder.errors import BuildFailed

DOCKERFILE = "dockerfile"


@dataclass(frozen=True)
class Detector:
    name: str  # "dockerfile", "python", "node", "static": BuildResult.detected
    looks_for: str  # for the message when nothing matches
    matches: Callable[[Path], bool]


DETECTORS = (
    Detector(DOCKERFILE, "Dockerfile", lambda app: (app / "Dockerfile").is_file()),
    Detector(python.NAME, "requirements.txt or pyproject.toml (Python)", python.detect),
    Detector(node.NAME, "package.json (Node.js)", node.detect),
    Detector(static.NAME, "public/index.html or index.html (static site)", static.detect),
)


def detect(app: Path) -> str:
    """The name of the first detector that claims ``app``; BuildFailed listing them if none."""
    for detector in DETECTORS:
        if detector.matches(app):
            return detector.name
    wanted = "; ".join(d.looks_for for d in DETECTORS)
    raise BuildFailed(
        f"nothing to build: no known file at the repository's root. Looked for: {wanted}"
    )

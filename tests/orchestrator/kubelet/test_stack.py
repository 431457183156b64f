"""Where the stack image's packages come from: this machine's apt sources."""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest
from support.engines import require_engine

from orchestrator.kubelet.stack import (
    StackSettings,
    build_stack_image,
    host_mirrors,
    mmdebstrap_argv,
)


def test_mirrors_come_from_both_apt_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main contrib\n"
        "deb-src http://mirror.example/debian bookworm main\n"
    )
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# http://snapshot.example\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://other.example/node\nSuites: nodistro\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "old.list.disabled").write_text("deb http://x/ bookworm main\n")
    assert host_mirrors("bookworm", tmp_path) == (
        "deb http://mirror.example/debian bookworm main contrib",
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
        "deb http://mirror.example/debian-security bookworm-security main",
    )


def test_without_matching_sources_debian_s_mirror_is_used(tmp_path: Path) -> None:
    assert host_mirrors("bookworm", tmp_path) == ()
    argv = mmdebstrap_argv(StackSettings(mirrors=("deb http://m/debian bookworm main",)))
    assert argv[:3] == [
        "mmdebstrap",
        "--variant=minbase",
        "--include=python3,nodejs,ca-certificates,curl",
    ]
    assert argv[-3:] == ["bookworm", "-", "deb http://m/debian bookworm main"]


@pytest.mark.docker
def test_a_built_stack_image_runs_python_and_node(docker_engine: str) -> None:
    """The real build (mmdebstrap from the mirror, piped into the engine), under a tag of its own
    so the shared image is never churned; then kept when asked again without ``force``."""
    require_engine("mmdebstrap", shutil.which("mmdebstrap") is not None, "mmdebstrap not installed")
    image = f"paas/stack:test-{uuid.uuid4().hex[:8]}"
    settings = StackSettings(image=image, docker_url=docker_engine)
    lines: list[str] = []
    client = docker.DockerClient(base_url=docker_engine)
    try:
        built = build_stack_image(settings, progress=lines.append)
        assert built.built and built.image_id.startswith("sha256:")
        assert any(line.startswith("I: ") for line in lines)  # mmdebstrap's own progress
        again = build_stack_image(settings)
        assert (again.built, again.image_id) == (False, built.image_id)
        out = client.containers.run(
            image, ["sh", "-c", "python3 --version; node --version; echo $LANG"], remove=True
        )
        assert re.match(rb"Python 3\.\d+\.\d+\nv\d+\.\d+\.\d+\nC\.UTF-8\n$", out)
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image)
        client.close()

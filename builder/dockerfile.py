"""Dockerfile builds: ``docker build`` of the repository into ``<image_name>:<digest prefix>``.

The digest of a Dockerfile build is the digest of its source tree (names,
executable bits, contents; ``.git`` left out): the same commit gives the
same tag, and a tag the engine already has is reused without building.
The image name comes from the settings; the registry part of DESIGN's
``<registry>/<app>:<digest-prefix>`` is the caller's to put in it (no
registry is started yet, so nothing is pushed: the image exists on the
engine that built it).

The engine is asked first (``docker version``): a repository with a
Dockerfile on a machine without an engine fails saying so, rather than
with a client's connection error halfway through.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from builder.buildpacks.base import BuildContext, missing_tool
from builder.errors import BuildFailed

TAG_DIGITS = 12  # like Docker's short image IDs: unique enough within one app


@dataclass(frozen=True)
class DockerImage:
    image: str
    reused: bool


def engine_version(docker: str) -> str:
    """The engine's version; BuildFailed saying no engine answers otherwise."""
    try:
        done = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except FileNotFoundError as exc:
        raise missing_tool(docker) from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildFailed("the Docker engine did not answer within 20 s") from exc
    if done.returncode != 0 or not done.stdout.strip():
        reason = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise BuildFailed(
            "this repository has a Dockerfile, but no Docker engine answers on the build node "
            f"({reason}); start Docker there, or remove the Dockerfile to use a buildpack"
        )
    return done.stdout.strip()


def build_image(ctx: BuildContext, docker: str, image_name: str, digest: str) -> DockerImage:
    ctx.header("Dockerfile detected")
    ctx.info(f"Docker engine {engine_version(docker)}")
    tag = f"{image_name}:{digest[:TAG_DIGITS]}"
    known = subprocess.run(
        [docker, "image", "inspect", tag], capture_output=True, timeout=20, check=False
    )
    if known.returncode == 0:
        ctx.header(f"Same source as {tag}: reusing it")
        return DockerImage(tag, reused=True)
    ctx.header(f"Building {tag} with docker build")
    ctx.run(
        [docker, "build", "--label", f"paas.dev/source-digest=sha256:{digest}", "-t", tag, "."],
        cwd=ctx.app,
    )
    return DockerImage(tag, reused=False)

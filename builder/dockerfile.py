"""Dockerfile builds: ``docker build`` of the repository, pushed to the platform's registry.

The digest of a Dockerfile build is the digest of its source tree (names,
executable bits, contents; ``.git`` left out): the same commit gives the
same tag, ``<image_name>:<digest prefix>``. With a registry (``paas up`` on
Docker runs one), ``image_name`` is ``<registry>/<namespace>/<app>``:

1. the registry is asked for the tag first: if it has it, the build is
   that image, pinned by digest, and nothing is built or pushed (a
   registry that does not answer fails the build here, before any work);
2. else the image is built (unless the engine has the tag already, from a
   build whose push failed) and pushed (builder/registry.py); the result
   is ``<registry>/<namespace>/<app>@sha256:<manifest digest>``, which any
   node's engine can pull.

Without a registry (``paas builder`` alone) the tag stays in the engine
that built it and is the result: a single-node setup runs it from there.

The engine is asked first (``docker version``): a repository with a
Dockerfile on a machine without an engine fails saying so, rather than
with a client's connection error halfway through.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from builder.buildpacks.base import BuildContext, missing_tool
from builder.errors import BuildFailed
from builder.registry import ImageName, push, stored_digest

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


def build_image(
    ctx: BuildContext, docker: str, image_name: str, digest: str, registry: str = ""
) -> DockerImage:
    """Build (and, with a ``registry``, push) the tree's image; what the nodes are to run."""
    ctx.header("Dockerfile detected")
    ctx.info(f"Docker engine {engine_version(docker)}")
    tag = digest[:TAG_DIGITS]
    if not registry:
        local = f"{image_name}:{tag}"
        reused = _has_image(docker, local)
        if reused:
            ctx.header(f"Same source as {local}: reusing it")
        else:
            _build(ctx, docker, local, digest)
        ctx.info("no image registry is configured: the image stays on this engine")
        return DockerImage(local, reused=reused)
    image = ImageName(registry, image_name, tag)
    stored = stored_digest(image)
    if stored:
        ctx.header(f"Same source as {image.tagged}: already in the registry")
        return DockerImage(image.pinned(stored), reused=True)
    if _has_image(docker, image.tagged):
        ctx.header(f"Same source as {image.tagged}: built before, not pushed yet")
    else:
        _build(ctx, docker, image.tagged, digest)
    pinned = push(ctx, docker, image)
    ctx.info(f"pushed as {pinned}")
    return DockerImage(pinned, reused=False)


def _has_image(docker: str, ref: str) -> bool:
    known = subprocess.run(
        [docker, "image", "inspect", ref], capture_output=True, timeout=20, check=False
    )
    return known.returncode == 0


def _build(ctx: BuildContext, docker: str, tag: str, digest: str) -> None:
    ctx.header(f"Building {tag} with docker build")
    ctx.run(
        [docker, "build", "--label", f"paas.dev/source-digest=sha256:{digest}", "-t", tag, "."],
        cwd=ctx.app,
    )

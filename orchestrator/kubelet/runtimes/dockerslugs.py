"""Slugs on the Docker runtime: the builder's slug run in the stack image.

One image name works on both runtimes (DESIGN): ``slug:sha256:<hex>`` on
Docker is the stack image (``paas/stack:bookworm``, Debian with python3 and
nodejs) with the slug fetched onto the node as the process runtime fetches
it (``slugfetch``) and bind-mounted read-only at ``/slug``; ``$SLUG_DIR`` in
its ``slug.json`` becomes ``/slug``. The entrypoint, cmd, env and working
directory come from ``slug.json`` with Kubernetes' rule (the pod's command
replaces the entrypoint, its args the cmd), exactly as on the process
runtime (``processimages``).

The slug's dependencies were installed by the build node's python3 and
node: compiled wheels run only where the stack image's interpreter has the
same minor version (3.11 both on bookworm and on this machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.kubelet.runtimes.base import STACK_IMAGE, ContainerSpec, ImageError
from orchestrator.kubelet.runtimes.processimages import SLUG_RE, read_slug
from orchestrator.kubelet.runtimes.slugfetch import fetch_slug

SLUG_MOUNT = "/slug"


@dataclass(frozen=True)
class SlugSource:
    """Where a node keeps slugs and fetches missing ones from."""

    slug_dir: Path | None = None  # None: this node runs no slugs
    source: str = ""  # the builder's URL ("" = never fetch)
    timeout: float = 60.0
    max_bytes: int = 2 << 30


@dataclass(frozen=True)
class SlugContainer:
    """What the engine is asked to create for a slug container."""

    image: str  # the stack image
    entrypoint: list[str] | None
    cmd: list[str] | None
    env: tuple[tuple[str, str], ...]  # the slug's, then the pod's (later wins)
    working_dir: str
    host_path: str  # mounted read-only at SLUG_MOUNT


def is_slug(image: str) -> bool:
    return SLUG_RE.match(image) is not None


def ensure_slug(spec: ContainerSpec, slugs: SlugSource) -> Path:
    """The slug's directory on this node, fetched if missing and pulls are allowed."""
    match = SLUG_RE.match(spec.image)
    assert match is not None
    if slugs.slug_dir is None:
        raise ImageError("ErrImagePull", f'image "{spec.image}": this node has no slug directory')
    path = slugs.slug_dir / f"sha256-{match.group(1)}"
    if path.is_dir():
        return path
    if spec.image_pull_policy == "Never":
        raise ImageError(
            "ErrImageNeverPull",
            f'Container image "{spec.image}" is not present with pull policy of Never',
        )
    if not slugs.source:
        raise ImageError(
            "ErrImagePull",
            f'image "{spec.image}": not under {slugs.slug_dir} and this node has no slug source '
            "(paas node --slug-source URL)",
        )
    return fetch_slug(slugs.source, match.group(1), slugs.slug_dir, slugs.timeout, slugs.max_bytes)


def slug_container(spec: ContainerSpec, path: Path) -> SlugContainer:
    """The stack-image container that runs the slug at ``path`` as ``spec`` asks."""
    image = read_slug(spec.image, path, SLUG_MOUNT)
    entrypoint: list[str] | None
    if spec.command:
        entrypoint, cmd = list(spec.command), list(spec.args) or None
    else:
        entrypoint = list(image.entrypoint) or None
        cmd = list(spec.args or image.cmd) or None
    return SlugContainer(
        image=STACK_IMAGE,
        entrypoint=entrypoint,
        cmd=cmd,
        env=(*image.env, *spec.env),
        working_dir=spec.working_dir or image.working_dir,
        host_path=str(path),
    )

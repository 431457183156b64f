"""What an image name means on the process runtime: the node's own system, or a slug.

Two kinds of image run here:

- ``paas/stack:bookworm`` (STACK_IMAGE): the node's own system. The command
  is the pod's ``command`` + ``args``, found on the node agent's PATH; there
  is no entrypoint, so a container without a command cannot start.
- ``slug:sha256:<hex>``: a directory the builder made, found at
  ``<slug_dir>/sha256-<hex>/`` (fetched from the builder on first use when
  the node has a slug source: ``slugfetch``, called by the runtime). Its
  ``slug.json`` may give ``entrypoint``,
  ``cmd`` (lists), ``env`` (an object) and ``working_dir`` (relative to the
  slug directory; default: the slug directory). The literal ``$SLUG_DIR`` in
  any of those strings is replaced by the slug directory's path. As on
  Docker, the pod's ``command`` replaces the entrypoint and ``args`` the cmd.

Every other name is refused with ErrImagePull naming the image: there is no
registry a process can be pulled from.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.kubelet.runtimes.base import STACK_IMAGE, ContainerSpec, ImageError

SLUG_RE = re.compile(r"^slug:sha256:([0-9a-f]{64})$")
STACK_IMAGE_ID = "process://" + STACK_IMAGE


@dataclass(frozen=True)
class ProcessImage:
    """An image resolved for one start: what to run and from where."""

    image_id: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""  # "" = the runtime's per-container directory
    root: str = ""  # the slug directory ("" for the stack image)

    def argv(self, spec: ContainerSpec) -> list[str]:
        """Docker's rule: command replaces the entrypoint, args replace the cmd."""
        if spec.command:
            return [*spec.command, *spec.args]
        return [*self.entrypoint, *(spec.args or self.cmd)]


def slug_path(slug_dir: Path | None, image: str) -> Path | None:
    match = SLUG_RE.match(image)
    if match is None or slug_dir is None:
        return None
    return slug_dir / f"sha256-{match.group(1)}"


def slug_to_fetch(spec: ContainerSpec, slug_dir: Path | None) -> str | None:
    """The digest of ``spec``'s slug when it should be fetched: absent here, pulls allowed."""
    match = SLUG_RE.match(spec.image)
    if match is None or slug_dir is None or spec.image_pull_policy == "Never":
        return None
    path = slug_path(slug_dir, spec.image)
    return match.group(1) if path is not None and not path.is_dir() else None


def resolve_image(spec: ContainerSpec, slug_dir: Path | None) -> ProcessImage:
    """The image of ``spec`` as this node has it; ImageError naming the image if it cannot."""
    image = spec.image
    if image == STACK_IMAGE:
        return ProcessImage(image_id=STACK_IMAGE_ID)
    if image.startswith("slug:"):
        if SLUG_RE.match(image) is None:
            raise ImageError(
                "InvalidImageName",
                f'image "{image}": a slug is named slug:sha256:<64 lowercase hex digits>',
            )
        path = slug_path(slug_dir, image)
        if path is None or not path.is_dir():
            where = f"under {slug_dir}" if slug_dir is not None else "(no slug directory is set)"
            if spec.image_pull_policy == "Never":
                raise ImageError(
                    "ErrImageNeverPull",
                    f'Container image "{image}" is not present with pull policy of Never '
                    f"(looked {where})",
                )
            raise ImageError(
                "ErrImagePull",
                f'image "{image}": slug not found {where} and this node has no slug source '
                "(paas node --slug-source URL)",
            )
        return read_slug(image, path)
    raise ImageError(
        "ErrImagePull",
        f'image "{image}": the process runtime runs only {STACK_IMAGE} (the node\'s own system) '
        "and builder slugs (slug:sha256:<hex>); use the docker runtime for other images",
    )


def read_slug(image: str, path: Path, root: str = "") -> ProcessImage:
    """The slug at ``path`` as an image; ``$SLUG_DIR`` becomes ``root`` (default: ``path``).

    The Docker runtime passes the path it mounts the slug at in the container.
    """
    meta_file = path / "slug.json"
    meta: dict[str, object] = {}
    if meta_file.exists():
        try:
            loaded = json.loads(meta_file.read_text())
        except ValueError as exc:
            raise ImageError("ErrImagePull", f'image "{image}": {meta_file}: {exc}') from exc
        if not isinstance(loaded, dict):
            raise ImageError("ErrImagePull", f'image "{image}": {meta_file} is not an object')
        meta = loaded
    root = root or str(path)

    def sub(value: object) -> str:
        return str(value).replace("$SLUG_DIR", root)

    def strings(key: str) -> tuple[str, ...]:
        value = meta.get(key) or []
        if not isinstance(value, list):
            raise ImageError("ErrImagePull", f'image "{image}": slug.json "{key}" must be a list')
        return tuple(sub(v) for v in value)

    env_value = meta.get("env") or {}
    if not isinstance(env_value, dict):
        raise ImageError("ErrImagePull", f'image "{image}": slug.json "env" must be an object')
    working = sub(meta.get("working_dir") or "")
    return ProcessImage(
        image_id=image,
        entrypoint=strings("entrypoint"),
        cmd=strings("cmd"),
        env=tuple((str(k), sub(v)) for k, v in env_value.items()),
        working_dir=os.path.join(root, working) if working else root,
        root=root,
    )

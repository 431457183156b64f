"""The platform's image registry, as a Dockerfile build sees it: ask what it has, push to it.

Dockerfile images leave the engine that built them through a registry of
the platform's own (Debian's ``docker-registry``, distribution 2.8, which
``paas up`` runs on loopback), so that every node can pull them. Images
are ``<registry>/<namespace>/<app>:<source digest prefix>``: the same commit
gives the same tag, and a tag the registry already has is neither built
nor pushed again.

What a build deploys is the pushed image pinned by its manifest digest,
``<registry>/<namespace>/<app>@sha256:<hex>``, not the tag: a digest names
one image for good, so a node that pulls it gets exactly what was built
(a tag can be pushed over), the Deployment changes exactly when the image
does, and ``IfNotPresent`` is always right for it. The digest is the one
``docker push`` reports, read back from the registry's
``Docker-Content-Digest`` (the manifest it stored), not parsed from the
CLI's progress output.

The registry is asked over plain HTTP: Docker engines trust registries in
127.0.0.0/8 without TLS by default, which is where ``paas up`` runs it. A
registry that does not answer fails the build with its address, before
anything is built; a push that fails fails it with docker's own words.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from builder.buildpacks.base import BuildContext
from builder.errors import BuildFailed

TIMEOUT_S = 10.0  # one manifest question on loopback; a registry that slow is down for us
# The manifest types the engine pushes (Docker v2, OCI); without them distribution answers
# with a digest of a converted manifest instead of the one the push stored.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


@dataclass(frozen=True)
class ImageName:
    """``<registry>/<repository>:<tag>`` and what it is called pinned by digest."""

    registry: str  # host:port, as in image references
    repository: str  # <namespace>/<app>
    tag: str

    @property
    def tagged(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    def pinned(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"


def unreachable(registry: str, why: object) -> BuildFailed:
    return BuildFailed(
        f"the image registry at {registry} did not answer ({why}); nothing was pushed. "
        "It runs beside the builder (paas up starts it): see its log, then push again"
    )


def stored_digest(image: ImageName, timeout: float = TIMEOUT_S) -> str:
    """The manifest digest the registry holds for ``image``'s tag ("" when it has none)."""
    url = f"http://{image.registry}/v2/{image.repository}/manifests/{image.tag}"
    try:
        answer = httpx.head(url, headers={"Accept": MANIFEST_TYPES}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise unreachable(image.registry, exc) from exc
    if answer.status_code == 404:
        return ""
    digest = answer.headers.get("Docker-Content-Digest", "")
    if answer.status_code != 200 or not digest.startswith("sha256:"):
        raise unreachable(image.registry, f"HTTP {answer.status_code} for {url}")
    return str(digest)


def push(ctx: BuildContext, docker: str, image: ImageName) -> str:
    """``docker push`` the tag, its output into the log; the pinned reference it stored."""
    ctx.header(f"Pushing {image.tagged}")
    try:
        ctx.run([docker, "push", image.tagged], cwd=ctx.app)
    except BuildFailed as exc:
        raise BuildFailed(
            f"the image could not be pushed to the registry at {image.registry}: {exc}"
        ) from exc
    digest = stored_digest(image)
    if not digest:
        raise BuildFailed(
            f"the registry at {image.registry} does not have {image.tagged} after docker push"
        )
    return image.pinned(digest)

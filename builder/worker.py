"""The build itself, run as a child process: ``python -m builder.worker REQUEST.json``.

``builder.build`` starts this in its own session (and cgroup, where it can)
and reads its stdout line by line: that is the build log. The worker first
puts itself under the limits it was given (joining the cgroup, or
``RLIMIT_DATA`` without one), before any of the repository's code can run
(pip building a package, an npm script, a Dockerfile's RUN steps happen in
its children, which inherit them). It ends by writing its result as JSON to
the request's ``result`` file: ``{"image", "digest", "detected", "reused"}``
or ``{"error"}``. Whatever kills it (the time limit, the OOM killer) leaves
no result, and the parent says why.

Steps: detect; a Dockerfile goes to ``docker build`` and ``docker push``
to the registry when there is one (or is refused where the nodes run slugs
only); else the build key
(source tree digest, detected kind, tool versions) may name a slug stored
before (reused, nothing built); else the source is copied to a staging
directory without ``.git``, the buildpack compiles it, and the staging
directory is packed into the slug store.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from builder.buildpacks import COMPILERS
from builder.buildpacks.base import BuildContext, Tools, write_slug_meta
from builder.cache import DependencyCache, dependency_key
from builder.detect import DOCKERFILE, detect
from builder.dockerfile import build_image
from builder.errors import BuildFailed
from builder.slugs import SlugError, SlugStore, tree_digest

BUILDER_VERSION = "1"  # part of every build key: bump when the slug layout changes
NO_DOCKERFILE_BUILDS = (
    "this repository has a Dockerfile, but this platform's nodes run the process runtime, "
    "which runs buildpack apps (slugs) only: remove the Dockerfile to build with a buildpack "
    "(Python, Node.js or a static site), or run the platform with paas up --runtime docker"
)


def log(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def confine(request: dict[str, Any]) -> None:
    """Join the build's cgroup (or limit the data segment) before anything else runs."""
    for procs in request.get("cgroup_procs", []):
        Path(procs).write_text("0")
    memory = request.get("rlimit_data")
    if memory:
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))


def build_key(kind: str, source_digest: str, ctx: BuildContext) -> str:
    versions: list[str] = []
    if kind == "python":
        versions.append(ctx.capture([ctx.tools.python, "--version"]))
    elif kind == "node":
        versions += [
            ctx.capture([ctx.tools.node, "--version"]),
            ctx.capture([ctx.tools.npm, "--version"]),
        ]
    return dependency_key("build", BUILDER_VERSION, kind, source_digest, *versions)


def run(request: dict[str, Any]) -> dict[str, Any]:
    source = Path(request["source"])
    store = SlugStore(Path(request["slug_dir"]))
    cache = DependencyCache(Path(request["cache_dir"]))
    tools = Tools(**request["tools"])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    kind = detect(source)
    digest = tree_digest(source)
    if kind == DOCKERFILE:
        if not request.get("dockerfile_builds", True):
            raise BuildFailed(NO_DOCKERFILE_BUILDS)
        ctx = BuildContext(source, source, cache, tools, log, env)
        image = build_image(
            ctx, request["docker"], request["image_name"], digest, request.get("registry", "")
        )
        return {"image": image.image, "digest": digest, "detected": kind, "reused": image.reused}
    work = Path(tempfile.mkdtemp(prefix="build-", dir=request.get("work_dir") or None))
    try:
        slug = work / "slug"
        ctx = BuildContext(slug / "app", slug, cache, tools, log, env)
        key = build_key(kind, digest, ctx)
        stored = store.recall(key)
        if stored is not None:
            log(f"-----> Same source and dependencies as slug:sha256:{stored[:12]}: reusing it")
            return {
                "image": f"slug:sha256:{stored}",
                "digest": stored,
                "detected": kind,
                "reused": True,
            }
        shutil.copytree(source, ctx.app, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        launch = COMPILERS[kind](ctx)
        write_slug_meta(slug, launch, kind)
        log(f"-----> web: {launch.web}")
        if launch.release:
            log(f"-----> release: {launch.release}")
        log("-----> Packing the slug")
        try:
            digest, existed = store.add(slug)
        except SlugError as exc:
            raise BuildFailed(f"the app cannot be packed: {exc}") from exc
        size = store.path(digest).stat().st_size
        if size > request["max_slug_bytes"]:
            store.path(digest).unlink(missing_ok=True)
            raise BuildFailed(
                f"the slug is {size / 2**20:.0f} MiB, over the limit of "
                f"{request['max_slug_bytes'] / 2**20:.0f} MiB; "
                "leave large files out of the repository"
            )
        store.remember(key, digest)
        log(
            f"       slug:sha256:{digest} ({size / 2**20:.1f} MiB)"
            + (" (already stored)" if existed else "")
        )
        return {
            "image": f"slug:sha256:{digest}",
            "digest": digest,
            "detected": kind,
            "reused": existed,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text())
    confine(request)
    try:
        result = run(request)
    except BuildFailed as exc:
        result = {"error": str(exc)}
    except MemoryError:
        result = {"error": "out of memory", "oom": True}
    except Exception as exc:  # a bug of ours: show it, fail this build only
        traceback.print_exc(file=sys.stdout)
        result = {"error": f"internal builder error: {exc!r}"}
    tmp = Path(request["result"] + ".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, request["result"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

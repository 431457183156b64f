"""``build(source, out, settings)``: one build, isolated, its log streamed as it happens.

The entry point the git server calls for a pushed commit checked out at
``source``. The build does not run in the caller's process: it runs as
``python -m builder.worker`` in a child process tree under the settings'
time and memory limits (builder/isolation.py), so a repository whose build
hangs, forks or eats memory costs that build only. Every line the child
prints reaches ``out`` as it is printed; the child's result comes back as a
small JSON file.

Outcomes:

- a slug, ``BuildResult(image="slug:sha256:<hex>", ...)``, stored in
  ``settings.slug_dir`` (``builder.slugs.SlugStore``, served over HTTP by
  ``slug_route``); ``reused`` when the same source and dependencies gave
  that slug before (then nothing was built) or packing gave bytes already
  stored;
- a Docker image for a Dockerfile: pushed to ``settings.registry`` and
  pinned by digest, ``<registry>/<image_name>@sha256:<hex>``, or without a
  registry ``<image_name>:<digest prefix>`` on the building engine only
  (builder/dockerfile.py); where the nodes run slugs only
  (``dockerfile_builds`` False: the process runtime), BuildFailed saying so
  before anything is built;
- ``BuildFailed`` with the reason to show the pusher: what the buildpack
  said, "took longer than its time limit", or "ran out of memory".

A build is cancelled by setting the ``cancel`` event it was given (a newer
push of the same branch): its process tree is killed within a fraction of
a second and ``BuildCancelled`` (a BuildFailed) is raised. The Build object
and its stored log are the git server's.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from builder.buildpacks.base import Tools
from builder.errors import BuildCancelled, BuildFailed
from builder.isolation import LimitedRun, Limits

__all__ = ["BuildCancelled", "BuildFailed", "BuildResult", "BuildSettings", "build"]


@dataclass(frozen=True)
class BuildSettings:
    """The builder's knobs for every build; tests shorten the limits."""

    slug_dir: Path  # the slug store: sha256-<hex>.tar.gz, served as /slugs/sha256:<hex>.tar.gz
    cache_dir: Path  # dependency caches by lockfile hash, and npm's download cache
    work_dir: Path | None = None  # scratch for staging slugs (None: the system's temp dir)
    time_limit_s: float = 900.0  # Heroku's compile limit (15 min) before it was raised
    memory_limit_bytes: int = 2 << 30  # pip and npm on the example apps peak under 300 MiB here
    cpu_millis: int | None = None  # a CFS quota where a cgroup exists (None: all CPUs)
    python: str = "python3"  # the node's python3: compiled wheels must match what runs the slug
    node: str = "node"  # versions are part of the dependency cache key
    npm: str = "npm"
    docker: str = "docker"  # the CLI for Dockerfile builds (its engine from DOCKER_HOST)
    image_name: str = "paas/app"  # Dockerfile images' repository: <namespace>/<app> in a registry
    registry: str = ""  # host:port Dockerfile images are pushed to ("": kept on the engine only)
    max_slug_bytes: int = 1 << 30  # Heroku's compressed slug limit since 2026
    dockerfile_builds: bool = True  # False: the nodes run slugs only (the process runtime)
    worker_python: str = sys.executable  # runs builder.worker: must import this package
    kill_grace_s: float = 2.0  # output still read after a kill


@dataclass(frozen=True)
class BuildResult:
    image: str  # "slug:sha256:<hex>" or a docker image ref
    digest: str  # the slug archive's sha256 (Dockerfile builds: the source tree's)
    detected: str  # "python", "node", "static", "dockerfile"
    reused: bool  # same digest existed


def build(
    source: Path,
    out: Callable[[str], None],
    settings: BuildSettings,
    cancel: threading.Event | None = None,
) -> BuildResult:
    """Build ``source`` in an isolated child; each log line to ``out``; BuildFailed on failure."""
    source = Path(source).resolve()
    if not source.is_dir():
        raise BuildFailed(f"nothing to build: {source} is not a directory")
    settings.slug_dir.mkdir(parents=True, exist_ok=True)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    limits = Limits(
        time_s=settings.time_limit_s,
        memory_bytes=settings.memory_limit_bytes,
        cpu_millis=settings.cpu_millis,
        kill_grace_s=settings.kill_grace_s,
    )
    runner = LimitedRun(limits)
    with tempfile.TemporaryDirectory(prefix="paas-build-") as tmp:
        result_file = Path(tmp) / "result.json"
        request = {
            "source": str(source),
            "slug_dir": str(settings.slug_dir),
            "cache_dir": str(settings.cache_dir),
            "work_dir": str(settings.work_dir) if settings.work_dir else "",
            "tools": asdict(Tools(settings.python, settings.node, settings.npm)),
            "docker": settings.docker,
            "image_name": settings.image_name,
            "registry": settings.registry,
            "dockerfile_builds": settings.dockerfile_builds,
            "max_slug_bytes": settings.max_slug_bytes,
            "result": str(result_file),
            **asdict(runner.confinement),
        }
        request_file = Path(tmp) / "request.json"
        request_file.write_text(json.dumps(request))
        argv = [settings.worker_python, "-m", "builder.worker", str(request_file)]
        try:
            outcome = runner.run(argv, _worker_env(), out, cancel)
        finally:
            runner.close()
        result = _read_result(result_file)
    if outcome.cancelled:
        raise BuildCancelled("the build was cancelled")
    if outcome.timed_out:
        raise BuildFailed(
            f"the build took longer than its time limit of {settings.time_limit_s:g} s "
            "and was stopped"
        )
    limit = f"{settings.memory_limit_bytes / 2**20:.0f} MiB"
    if outcome.out_of_memory or result.get("oom"):
        raise BuildFailed(f"the build ran out of memory (limit {limit}) and was stopped")
    if "error" in result:
        raise BuildFailed(str(result["error"]))
    if not result:
        how = f"killed by signal {-outcome.exit_code}" if outcome.exit_code < 0 else "ended"
        raise BuildFailed(f"the build {how} without a result (exit {outcome.exit_code})")
    return BuildResult(
        image=str(result["image"]),
        digest=str(result["digest"]),
        detected=str(result["detected"]),
        reused=bool(result["reused"]),
    )


def _worker_env() -> dict[str, str]:
    """The caller's environment (PATH, HOME, pip's and npm's registry settings), made quiet."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("LANG", "C.UTF-8")
    return env


def _read_result(path: Path) -> dict[str, object]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}

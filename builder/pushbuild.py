"""The build a push runs: detection, buildpacks and slugs (``builder.build``) for one push.

``paas builder`` calls this as its default build function, in its build
child (``builder.buildrun``), with the push's ``BuildContext``. Slugs go to
the builder's slug store (``<data_dir>/slugs``, served at ``/slugs/``, where
nodes fetch them) and dependency caches to ``<data_dir>/cache``, shared by
every app; Dockerfile images to the registry the builder was given
(``<registry>/<namespace>/<app>``). The outer child already enforces the push's time limit; the
build's own limits apply inside it: the builder's memory limit (in a cgroup
where root, which tells an OOM kill apart), and a time limit a little past
the builder's, as a backstop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from builder.build import BuildResult, BuildSettings
from builder.build import build as build_tree
from builder.buildrun import BuildContext

# The builder's own kill decides the time limit (its message, and the cancel); this one only
# stops the build should that kill not reach here.
TIME_BACKSTOP_S = 30.0


def settings_for(context: BuildContext) -> BuildSettings:
    data = Path(context.data_dir)
    return BuildSettings(
        slug_dir=slug_dir(data),
        cache_dir=data / "cache",
        work_dir=data / "work",
        image_name=image_name(context),
        registry=context.registry,
        time_limit_s=context.time_limit_s + TIME_BACKSTOP_S,
        memory_limit_bytes=context.memory_bytes,
        dockerfile_builds=context.dockerfile_builds,
    )


def image_name(context: BuildContext) -> str:
    """A Dockerfile image's repository: ``<namespace>/<app>`` (``paas/...`` on the engine only)."""
    repository = f"{context.namespace}/{context.app}"
    return repository if context.registry else f"paas/{repository}"


def slug_dir(data_dir: Path) -> Path:
    return data_dir / "slugs"


def build(source: Path, out: Callable[[str], None], context: BuildContext) -> str:
    result: BuildResult = build_tree(Path(source), out, settings_for(context))
    what = "reused" if result.reused else "built"
    out(f"{result.detected} app {what}: {result.image}")
    return result.image

"""The static buildpack: ``public/index.html`` or ``index.html`` -> a slug served by our server.

Detected last, only when no language is (the reference's advice). The site
is served from ``public/`` when that has an ``index.html`` (Heroku's web
CNB convention), else from the app's root. The server is
``builder/staticserver.py``, copied into the slug as
``.paas/staticserver.py``: it needs only the node's ``python3`` and its
standard library, so the slug runs on a node without this package and in
the Docker stack image alike. A Procfile ``web:`` line still wins.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from builder import staticserver
from builder.buildpacks.base import BuildContext, Launch
from builder.buildpacks.procfile import read_procfile

NAME = "static"
MARKERS = ("public/index.html", "index.html")


def detect(app: Path) -> bool:
    return any((app / marker).is_file() for marker in MARKERS)


def compile_app(ctx: BuildContext) -> Launch:
    root = "app/public" if (ctx.app / "public" / "index.html").is_file() else "app"
    ctx.header(
        f"Static site detected (serving {root.removeprefix('app').lstrip('/') or 'the root'})"
    )
    paas = ctx.slug / ".paas"
    paas.mkdir(exist_ok=True)
    shutil.copyfile(staticserver.__file__, paas / "staticserver.py")
    processes = read_procfile(ctx.app)
    web = (
        processes.get("web") or f'exec python3 "$SLUG_DIR/.paas/staticserver.py" "$SLUG_DIR/{root}"'
    )
    return Launch(web=web, processes=processes, release=processes.get("release", ""))

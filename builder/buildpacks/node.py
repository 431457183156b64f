"""The Node buildpack: ``package.json`` -> a slug with ``app/node_modules``.

Install, as Heroku's buildpack does: ``npm ci`` when ``package-lock.json``
or ``npm-shrinkwrap.json`` is there (exactly what the lockfile says, or a
failure), else ``npm install``. It runs on a copy of ``package.json`` and
the lockfile alone, in the cache's scratch directory, so the installed
``node_modules`` depends only on what its key hashes: those two files with
node's and npm's versions. npm's own download cache lives under the
builder's cache too (``--prefer-offline``), so a new lockfile only fetches
what is new.

Then ``heroku-postbuild`` or ``build`` from ``scripts`` runs in the app, if
present (the cached tree is copied, not linked, in that case: a build
script may write into ``node_modules``). devDependencies are not pruned
after it yet.

The web command is the Procfile's ``web:``; else ``scripts.start`` run the
way ``npm start`` runs it (through ``sh -c`` with ``node_modules/.bin`` on
PATH), without needing npm on the node; else ``node server.js``, npm's own
fallback. Nothing of those is a BuildFailed saying what to add.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from builder.buildpacks.base import BuildContext, Launch
from builder.buildpacks.procfile import read_procfile
from builder.cache import copy_tree, dependency_key, link_tree
from builder.errors import BuildFailed

NAME = "node"
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
BUILD_SCRIPTS = ("heroku-postbuild", "build")


def detect(app: Path) -> bool:
    return (app / "package.json").is_file()


def read_package(app: Path) -> dict[str, object]:
    try:
        loaded = json.loads((app / "package.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BuildFailed(f"package.json is not valid JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise BuildFailed("package.json must hold a JSON object")
    return loaded


def compile_app(ctx: BuildContext) -> Launch:
    package = read_package(ctx.app)
    scripts = package.get("scripts") or {}
    if not isinstance(scripts, dict):
        raise BuildFailed('package.json: "scripts" must be an object')
    lock = next((name for name in LOCKFILES if (ctx.app / name).is_file()), None)
    ctx.header(f"Node.js app detected ({lock or 'package.json, no lockfile'})")
    node_version = ctx.capture([ctx.tools.node, "--version"])
    npm_version = ctx.capture([ctx.tools.npm, "--version"])
    ctx.info(f"node {node_version}, npm {npm_version}")
    if (ctx.app / "node_modules").exists():
        ctx.info("node_modules is checked in: removed, installing from package.json")
        shutil.rmtree(ctx.app / "node_modules")
    inputs = ["package.json", *([lock] if lock else [])]
    key = dependency_key(
        "node", node_version, npm_version, *((ctx.app / name).read_bytes() for name in inputs)
    )
    build_script = next((s for s in BUILD_SCRIPTS if s in scripts), None)
    place = copy_tree if build_script else link_tree
    cached = ctx.cache.lookup(NAME, key)
    if cached is not None:
        ctx.header(f"Reusing node_modules ({' and '.join(inputs)} unchanged; cache {key[:12]})")
    else:
        command = "ci" if lock else "install"
        ctx.header(f"Installing dependencies with npm {command}")
        npm_cache = ctx.cache.directory / "npm-downloads"

        def install(target: Path) -> None:
            for name in inputs:
                shutil.copy2(ctx.app / name, target / name)
            ctx.run(
                [ctx.tools.npm, command, "--cache", str(npm_cache), "--prefer-offline",
                 "--no-audit", "--no-fund", "--loglevel", "warn"],
                cwd=target,
            )  # fmt: skip
            (target / "node_modules").mkdir(exist_ok=True)  # no dependencies: still an entry

        cached = ctx.cache.fill(NAME, key, install)
    place(cached / "node_modules", ctx.app / "node_modules")
    if build_script:
        ctx.header(f"Running {build_script} (npm run {build_script})")
        ctx.run([ctx.tools.npm, "run", build_script], cwd=ctx.app)
    processes = read_procfile(ctx.app)
    web = processes.get("web") or _default_web(ctx.app, scripts)
    return Launch(
        web=web,
        path=("$SLUG_DIR/app/node_modules/.bin",),
        env={"NODE_ENV": "production"},
        processes=processes,
        release=processes.get("release", ""),
    )


def _default_web(app: Path, scripts: dict[object, object]) -> str:
    start = scripts.get("start")
    if isinstance(start, str) and start.strip():
        return start
    if (app / "server.js").is_file():
        return "exec node server.js"
    raise BuildFailed(
        'no web process: add "start" to "scripts" in package.json, a server.js, '
        "or a Procfile with a 'web:' line"
    )

"""The Python buildpack: ``requirements.txt`` or ``pyproject.toml`` -> a slug.

Dependencies are installed with ``python3 -m pip install --target`` into the
slug's ``python/`` directory, not a venv: a venv records absolute paths
(``pyvenv.cfg``, script shebangs) and breaks when moved, while a target
directory on ``PYTHONPATH`` runs from wherever the node unpacks the slug.
Console scripts' shebangs are rewritten to ``/usr/bin/env python3`` for
the same reason. ``--no-compile`` keeps ``.pyc`` files (whose headers hold
build-time mtimes) out of the archive, so the digest depends only on the
source and the lockfile.

The interpreter is the node's ``python3`` (settings): wheels with compiled
parts must match the interpreter that runs them. The cache key is the
lockfile's bytes (``requirements.txt``, or the ``[project] dependencies`` of
``pyproject.toml``) with the interpreter's version and platform.

The web command is the Procfile's ``web:``; without one, a WSGI or ASGI app
is looked for (``wsgi.py``, ``asgi.py``, ``app.py``, ``main.py``,
``server.py``, ``application.py``, then ``<pkg>/wsgi.py`` as Django makes)
and served with gunicorn or uvicorn from the app's own dependencies, bound
to ``$HOST`` (loopback mode) or all addresses on ``$PORT``. Like Heroku, a
server is never installed behind the app's back: without one the build
fails saying which line to add.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from builder.buildpacks.base import BuildContext, Launch
from builder.buildpacks.procfile import read_procfile
from builder.cache import dependency_key, link_tree
from builder.errors import BuildFailed

NAME = "python"
MARKERS = ("requirements.txt", "pyproject.toml")
CANDIDATES = ("wsgi.py", "asgi.py", "app.py", "main.py", "server.py", "application.py")
ASGI_HINTS = re.compile(
    r"\b(FastAPI|Starlette|Quart|Litestar|get_asgi_application)\s*\(|async def app\("
)
APP_RE = re.compile(
    r"^(app|application|api)\s*(?::[^=]*)?=\s*[\w.]+\(|^def (app|application)\s*\(", re.MULTILINE
)
SHEBANG = b"#!/usr/bin/env python3\n"


def detect(app: Path) -> bool:
    return any((app / marker).is_file() for marker in MARKERS)


def lockfile(app: Path) -> tuple[str, bytes, list[str]]:
    """(what names the dependencies, its bytes for the key, pip's arguments)."""
    requirements = app / "requirements.txt"
    if requirements.is_file():
        return "requirements.txt", requirements.read_bytes(), ["-r", "requirements.txt"]
    try:
        project = tomllib.loads((app / "pyproject.toml").read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BuildFailed(f"pyproject.toml cannot be read: {exc}") from exc
    dependencies = project.get("project", {}).get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise BuildFailed("pyproject.toml: [project] dependencies must be a list of strings")
    return "pyproject.toml [project] dependencies", "\n".join(dependencies).encode(), dependencies


def compile_app(ctx: BuildContext) -> Launch:
    python = ctx.tools.python
    what, locked, pip_args = lockfile(ctx.app)
    ctx.header(f"Python app detected ({what})")
    version = ctx.capture(
        [
            python,
            "-c",
            "import sys, sysconfig; print(sys.version.split()[0], sysconfig.get_platform())",
        ]
    )
    ctx.info(f"python3 {version}")
    key = dependency_key("python", version, locked)
    cached = ctx.cache.lookup(NAME, key)
    if not pip_args:
        ctx.info("no dependencies")
        (ctx.slug / "python").mkdir()
    elif cached is not None:
        ctx.header(f"Reusing dependencies ({what} unchanged; cache {key[:12]})")
        link_tree(cached, ctx.slug / "python")
    else:
        ctx.header(f"Installing dependencies with pip ({what})")

        def install(target: Path) -> None:
            ctx.run(
                [python, "-m", "pip", "install", "--no-input", "--no-compile",
                 "--disable-pip-version-check", "--progress-bar", "off",
                 "--root-user-action", "ignore",
                 "--target", str(target), *pip_args],
                cwd=ctx.app,
            )  # fmt: skip
            _relocate_scripts(target / "bin")

        link_tree(ctx.cache.fill(NAME, key, install), ctx.slug / "python")
    processes = read_procfile(ctx.app)
    web = processes.get("web") or _default_web(ctx)
    return Launch(
        web=web,
        path=("$SLUG_DIR/python/bin",),
        env={"PYTHONPATH": "$SLUG_DIR/python", "PYTHONUNBUFFERED": "1"},
        processes=processes,
        release=processes.get("release", ""),
    )


def _relocate_scripts(bindir: Path) -> None:
    """Point console scripts at the node's python3 instead of the build's interpreter path."""
    if not bindir.is_dir():
        return
    for script in bindir.iterdir():
        if not script.is_file() or script.is_symlink():
            continue
        data = script.read_bytes()
        if data.startswith(b"#!") and b"python" in data.split(b"\n", 1)[0]:
            script.write_bytes(SHEBANG + data.split(b"\n", 1)[1])


def find_app(app: Path) -> tuple[str, bool] | None:
    """("module:attribute", is_asgi) of the app's WSGI/ASGI callable, if one is found."""
    candidates = [app / name for name in CANDIDATES]
    candidates += sorted(app.glob("*/wsgi.py")) + sorted(app.glob("*/asgi.py"))
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        match = APP_RE.search(text)
        if match is None:
            continue
        attribute = match.group(1) or match.group(2)
        module = ".".join(path.relative_to(app).with_suffix("").parts)
        return f"{module}:{attribute}", bool(ASGI_HINTS.search(text)) or path.name == "asgi.py"
    return None


def _default_web(ctx: BuildContext) -> str:
    found = find_app(ctx.app)
    if found is None:
        raise BuildFailed(
            "no web process: add a Procfile with a 'web:' line "
            "(for example 'web: gunicorn app:app'), or a WSGI/ASGI app in app.py or main.py"
        )
    target, asgi = found
    python = ctx.slug / "python"
    if asgi:
        if not (python / "uvicorn").is_dir():
            raise BuildFailed(
                f"found the ASGI app {target} but no server for it: add uvicorn to "
                "requirements.txt, or a Procfile 'web:' line"
            )
        ctx.info(f"web: uvicorn serving {target} (ASGI)")
        return f'exec python3 -m uvicorn --host "${{HOST:-0.0.0.0}}" --port "$PORT" {target}'
    if not (python / "gunicorn").is_dir():
        raise BuildFailed(
            f"found the WSGI app {target} but no server for it: add gunicorn to "
            "requirements.txt, or a Procfile 'web:' line"
        )
    ctx.info(f"web: gunicorn serving {target} (WSGI)")
    # --preload: the app is imported before the port opens, so a ready socket answers at once
    # (without it the readiness probe passed ~0.25 s before the worker could serve)
    return f'exec python3 -m gunicorn --preload --bind "${{HOST:-0.0.0.0}}:$PORT" {target}'

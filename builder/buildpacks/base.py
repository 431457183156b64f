"""What every buildpack shares: the build context, running a step, and the slug's launcher.

A buildpack gets a ``BuildContext`` (the app copied to ``<slug>/app``, the
dependency cache, the tools, a log) and returns a ``Launch``: the web
command, PATH entries, environment, the other Procfile types and the
``release`` command. ``write_slug_meta`` turns that into the slug's
``slug.json`` and ``.paas/run``:

- ``entrypoint`` is ``["/bin/sh", "$SLUG_DIR/.paas/run"]`` and ``cmd`` the web
  command, one string: the launcher puts the slug's own directories in
  front of the node's PATH and runs the command through ``sh -c``, as
  Heroku runs Procfile commands, so ``$PORT`` and config vars expand. A pod
  whose ``args`` name another command (a worker, the release) runs it the
  same way.
- every path is written with ``$SLUG_DIR`` (the runtime replaces it with
  wherever it unpacked the slug, and ``SLUG_DIR`` is exported to the app):
  nothing absolute is baked in, so the same archive runs from any
  directory, on any node.

Steps run with their output streamed line by line into the log, indented
under the step's header; a step that exits non-zero, or a tool that is not
installed, is a BuildFailed naming it; a failed step's message ends with its
last line of output, where pip, docker and compilers say why.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from builder.cache import DependencyCache
from builder.errors import BuildFailed

INDENT = "       "
LAST_LINE = 300  # of a failed step's last line, in its BuildFailed: the reason, not a log
# Debian packages that provide the tools a buildpack runs, for the message when one is missing
PACKAGES = {"python3": "python3 python3-pip", "node": "nodejs", "npm": "npm", "docker": "docker.io"}


@dataclass(frozen=True)
class Tools:
    """The executables builds use (the node's own, on the process runtime)."""

    python: str = "python3"
    node: str = "node"
    npm: str = "npm"


@dataclass(frozen=True)
class Launch:
    """How the slug starts: what a buildpack decided."""

    web: str  # the shell command of the web process
    path: tuple[str, ...] = ()  # PATH entries, with $SLUG_DIR, put before the node's PATH
    env: Mapping[str, str] = field(default_factory=dict)
    processes: Mapping[str, str] = field(default_factory=dict)  # every Procfile type
    release: str = ""  # run once per deploy before traffic moves ("" = none)


@dataclass(frozen=True)
class BuildContext:
    app: Path  # the app's files, copied: the slug's app/ directory
    slug: Path  # the slug's root (slug.json, app/, dependencies, .paas/)
    cache: DependencyCache
    tools: Tools
    log: Callable[[str], None]
    env: Mapping[str, str] = field(default_factory=dict)  # the environment of every step

    def header(self, text: str) -> None:
        self.log(f"-----> {text}")

    def info(self, text: str) -> None:
        self.log(f"{INDENT}{text}")

    def run(self, argv: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
        """Run one step, its output into the log; BuildFailed if it fails."""
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except FileNotFoundError as exc:
            raise missing_tool(argv[0]) from exc
        assert proc.stdout is not None
        last = ""
        with proc.stdout:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                self.info(line)
                last = line.strip() or last
        code = proc.wait()
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
            said = f": {last[-LAST_LINE:]}" if last else ""
            raise BuildFailed(f"{step_name(argv)} {how}{said} (its output is above)")

    def capture(self, argv: list[str]) -> str:
        """A tool's short answer (a version); BuildFailed when it is missing or fails."""
        try:
            done = subprocess.run(
                argv, env=dict(self.env), capture_output=True, text=True, timeout=60, check=False
            )
        except FileNotFoundError as exc:
            raise missing_tool(argv[0]) from exc
        if done.returncode != 0:
            raise BuildFailed(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
        return done.stdout.strip()


def step_name(argv: list[str]) -> str:
    """What a failed step is called: its words up to the first option (``-m`` kept).

    ``docker build --label ...`` is "docker build", ``python3 -m pip install
    ...`` is "python3 -m pip install", ``npm run build`` stays whole.
    """
    words = [Path(argv[0]).name]
    for word in argv[1:5]:
        if word.startswith("-") and word != "-m":
            break
        words.append(word)
    return " ".join(words)


def missing_tool(name: str) -> BuildFailed:
    base = os.path.basename(name)
    package = PACKAGES.get(base.rstrip("0123456789."), base)
    return BuildFailed(
        f"{base} is not installed on the build node; install it "
        f"(Debian: apt-get install {package}) "
        "or build with a Dockerfile"
    )


LAUNCHER = """\
#!/bin/sh
# Written by the builder: the slug's own directories first on PATH, then the command
# (the web process, or a pod's args) through sh -c, as a Procfile line runs.
PATH="{path}${{PATH:-/usr/local/bin:/usr/bin:/bin}}"
export PATH
exec /bin/sh -c "$1"
"""


def write_slug_meta(slug: Path, launch: Launch, buildpack: str) -> None:
    """``slug.json`` and the launcher ``.paas/run`` for ``launch``."""
    paas = slug / ".paas"
    paas.mkdir(exist_ok=True)
    path = "".join(f"{entry}:" for entry in launch.path)  # "$SLUG_DIR" expands inside the quotes
    (paas / "run").write_text(LAUNCHER.format(path=path))
    (paas / "run").chmod(0o755)
    meta = {
        "entrypoint": ["/bin/sh", "$SLUG_DIR/.paas/run"],
        "cmd": [launch.web],
        "env": {"SLUG_DIR": "$SLUG_DIR", **launch.env},
        "working_dir": "app",
        "release": launch.release,
        "processes": dict(launch.processes),
        "buildpack": buildpack,
    }
    (slug / "slug.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

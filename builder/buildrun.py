"""One build, in a child process of its own: ``python -m builder.buildrun``.

The builder never runs build code in its own process: a repository is
untrusted, and its install steps may hang, eat memory or crash. Each build
is this child, started in its own session (so a cancel or a time limit
kills its whole process tree with one ``killpg``) under resource limits
(address space, CPU seconds; see ``runner.py``). Running builds as pods of
the platform would add scheduling and a node's limits; a child of the
builder is what the first version needs, and it is what a build pod would
run.

The child loads the build function named by ``--function`` (``module:name``
or ``path/to/file.py:name``) and calls ``function(source_dir, out,
context)``: ``out`` prints one line, flushed; ``context`` is a
``BuildContext``. The function returns the image reference it built (a
``str``, or an object with ``image_ref``). That reference goes to the
``--result`` file as JSON (``{"result": ref}``, or ``{"error": message}``
with the exception's message, which the builder makes the Build's message
and the last line the pusher sees); the exit status says whether it worked.
SIGTERM raises SystemExit here, so that a build function's cleanup (the
default one kills its own build's process tree) runs when the builder stops
a build.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BuildContext:
    """What a build function is told besides its source tree."""

    namespace: str
    app: str
    branch: str
    commit: str
    data_dir: str  # the builder's data dir: slugs and caches live under it
    builder_url: str  # where nodes fetch slugs from
    time_limit_s: float = 900.0  # the builder's time limit for the whole build (its own kill)
    memory_bytes: int = 2 << 30  # what the build's process tree may use, in bytes
    dockerfile_builds: bool = True  # False: the nodes run slugs only, a Dockerfile is refused
    registry: str = ""  # host:port Dockerfile images are pushed to ("": kept on the engine only)


def load_function(spec: str) -> Callable[..., Any]:
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise ValueError(f"a build function is module:name or file.py:name, not {spec!r}")
    if where.endswith(".py"):
        loaded = importlib.util.spec_from_file_location(Path(where).stem, where)
        if loaded is None or loaded.loader is None:
            raise ImportError(f"cannot load {where}")
        module = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    function = getattr(module, name)
    if not callable(function):
        raise TypeError(f"{spec} is not callable")
    return function


def image_ref(result: Any) -> str:
    return result if isinstance(result, str) else str(result.image_ref)


def out(line: str) -> None:
    print(line, flush=True)


def stop_on_sigterm() -> None:
    """SIGTERM (a time limit, a cancel) becomes SystemExit, so that cleanup code runs.

    Python's default for SIGTERM ends the process at once: a build function
    that runs its work in a session of its own (the default one does, to
    kill it as a whole) would leave that work running, unlimited. Raising
    lets its ``finally`` kill what it started before this process ends.
    """

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def write_result(path: Path, result: dict[str, object]) -> None:
    path.write_text(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="builder.buildrun")
    p.add_argument("--function", required=True)
    p.add_argument("--source", required=True, type=Path)
    p.add_argument("--result", required=True, type=Path)
    p.add_argument("--context", required=True, help="the BuildContext as JSON")
    args = p.parse_args(argv)
    context = BuildContext(**json.loads(args.context))
    stop_on_sigterm()
    try:
        function = load_function(args.function)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        error = f"the build function {args.function} cannot be loaded ({exc})"
        out(f"build failed: {error}")
        write_result(args.result, {"error": error})
        return 1
    try:
        ref = image_ref(function(args.source, out, context))
    except Exception as exc:
        out(f"build failed: {exc}")
        write_result(args.result, {"error": str(exc)})
        return 1
    write_result(args.result, {"result": ref, "context": asdict(context)})
    return 0


if __name__ == "__main__":
    sys.exit(main())

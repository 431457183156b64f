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
``--result`` file as JSON; the exit status says whether it worked, and an
exception's message is the last line the pusher sees.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="builder.buildrun")
    p.add_argument("--function", required=True)
    p.add_argument("--source", required=True, type=Path)
    p.add_argument("--result", required=True, type=Path)
    p.add_argument("--context", required=True, help="the BuildContext as JSON")
    args = p.parse_args(argv)
    context = BuildContext(**json.loads(args.context))
    try:
        function = load_function(args.function)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        out(f"build failed: the build function {args.function} cannot be loaded ({exc})")
        return 1
    try:
        ref = image_ref(function(args.source, out, context))
    except Exception as exc:
        out(f"build failed: {exc}")
        return 1
    args.result.write_text(json.dumps({"result": ref, "context": asdict(context)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

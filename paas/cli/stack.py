"""``paas stack build [--force]``: make the base stack image on this machine's Docker engine.

The image (``paas/stack:bookworm``: Debian with python3 and nodejs) is what
pods naming the stack image run on the Docker runtime; see
``orchestrator.kubelet.stack``. An image already present is kept unless
``--force``. Progress (mmdebstrap's own lines, then the bytes sent to the
engine) goes to stderr; the result line to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

from orchestrator.kubelet.stack import StackBuildError, StackSettings, build_stack_image


def add_stack_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("stack", help="the base stack image for the Docker runtime")
    stack_sub = p.add_subparsers(dest="stack_command", metavar="COMMAND", required=True)
    build = stack_sub.add_parser(
        "build", help="build paas/stack:bookworm with mmdebstrap and docker import"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    build.add_argument(
        "--docker-host",
        default=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
        metavar="URL",
        help="the Docker engine to import into (default: $DOCKER_HOST or the local socket)",
    )
    build.set_defaults(func=run_stack_build)


def run_stack_build(args: argparse.Namespace) -> int:
    settings = StackSettings(docker_url=args.docker_host)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result = build_stack_image(settings, force=args.force, progress=progress)
    except StackBuildError as exc:
        print(f"paas stack build: {exc}", file=sys.stderr)
        return 1
    if result.built:
        print(f"built {result.image} ({result.image_id[:19]}) in {result.seconds:.0f}s")
    else:
        print(f"{result.image} is present ({result.image_id[:19]}); --force rebuilds it")
    return 0

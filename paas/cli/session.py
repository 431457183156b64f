"""Connection flags, the client they make, and how failures are told to the user.

Only here does a resource command read the environment (``$KUBECONFIG``);
what it finds is passed down as a ``Session`` (frozen). Each command runs as
one coroutine under ``run_command``, which owns the event loop and turns any
failure into a kubectl-style line on stderr and exit code 1:

    Error from server (NotFound): deployments.apps "x" not found
    error: the server doesn't have a resource type "foo"
    error: cannot reach the API server at https://127.0.0.1:6443 ... run `paas up`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.api import errors
from orchestrator.client.config import ClientConfig, KubeconfigError, load_kubeconfig
from orchestrator.client.rest import APIClient, Unreachable
from paas.cli.kinds import NoKindMatch, UnknownKind, UsageError
from paas.cli.manifests import ManifestError


@dataclass(frozen=True)
class Session:
    config: ClientConfig
    namespace: str  # -n, else the context's namespace
    namespace_given: bool  # -n was passed: manifests naming another namespace are refused

    def client(self) -> APIClient:
        return APIClient(self.config)


def add_kubeconfig_flags(p: argparse.ArgumentParser) -> None:
    """``--kubeconfig`` and ``--context``: which cluster a command or component talks to."""
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="kubeconfig file (default: $KUBECONFIG, else ~/.paas/kubeconfig)",
    )
    p.add_argument("--context", default="", help="kubeconfig context to use")


def connection_flags() -> argparse.ArgumentParser:
    """A parent parser with the flags every resource command takes."""
    p = argparse.ArgumentParser(add_help=False)
    add_kubeconfig_flags(p)
    p.add_argument(
        "-n", "--namespace", default="", help="namespace (default: the context's namespace)"
    )
    return p


def default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = env.split(os.pathsep)[0] if env else ""
    return Path(first) if first else Path.home() / ".paas" / "kubeconfig"


def open_session(args: argparse.Namespace) -> Session:
    path = (args.kubeconfig or default_kubeconfig()).expanduser()
    config = load_kubeconfig(path, args.context)
    return Session(
        config=config,
        namespace=args.namespace or config.namespace,
        namespace_given=bool(args.namespace),
    )


def describe_error(exc: BaseException) -> str:
    """The line a user sees for a failure."""
    if isinstance(exc, errors.APIError):
        if isinstance(exc, Unreachable):
            return f"error: {exc.message}\nIs the platform running? Start it with `paas up`."
        if isinstance(exc, errors.Unauthorized):
            return "error: You must be logged in to the server (Unauthorized)"
        return f"Error from server ({exc.reason}): {exc.message}"
    if isinstance(exc, (UnknownKind, NoKindMatch, UsageError, ManifestError, KubeconfigError)):
        return f"error: {exc.args[0] if exc.args else exc}"
    return f"error: {exc}"


def report(exc: BaseException) -> None:
    print(describe_error(exc), file=sys.stderr, flush=True)


Command = Callable[[Session, argparse.Namespace], Coroutine[Any, Any, int]]


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one command's coroutine on its own loop; failures become exit code 1."""
    try:
        session = open_session(args)
        return asyncio.run(command(session, args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`paas get ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (
        errors.APIError,
        UnknownKind,
        NoKindMatch,
        UsageError,
        ManifestError,
        KubeconfigError,
    ) as exc:
        report(exc)
        return 1

"""``paas apps create|list|branches|delete``, ``paas git-remote APP`` and git's credential helper.

An App is what ``git push`` deploys (``paas.dev/v1``); the first push to an
unknown app creates it, and these commands manage them directly. Deleting
an App deletes what it owns (its Builds, later its branches' objects)
through the garbage collector; its repository goes with the next push.
``paas apps branches APP`` lists the deployed branches from the App's
status: URL, the build that serves, and the state, where a preview with
no instance running reads as idle (scaled to zero), not as broken.

``paas git-remote APP`` adds (or points) the ``paas`` remote of the current
repository at ``<git>/<app>.git`` (``<git>/<ns>/<app>.git`` outside
``default``), ``<git>`` being the ``git`` URL in the data dir's
``endpoints.json``. The token is not written into the URL or the repository:
the remote gets a credential helper (``paas.cli.gitcredential``, quick to
start since git runs it twice a push), which answers git with the
kubeconfig's token whenever git asks.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from builder.kinds import API_VERSION, APPS
from builder.names import DEFAULT_NAMESPACE, InvalidName, check_app_name
from orchestrator.client.config import load_kubeconfig
from paas.cli import gitcredential
from paas.cli.printing import TableView, format_lines, table_header, table_rows
from paas.cli.session import Session, connection_flags, default_kubeconfig, run_command


def add_apps_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    conn = connection_flags()
    p = sub.add_parser("apps", help="manage apps (what git push deploys)")
    asub = p.add_subparsers(dest="apps_command", metavar="ACTION", required=True)
    create = asub.add_parser("create", parents=[conn], help="create an app")
    create.add_argument("name")
    create.add_argument("--main-branch", default="main", help="the branch served as production")
    create.set_defaults(func=lambda a: run_command(create_app, a))
    listing = asub.add_parser("list", parents=[conn], help="list apps")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.set_defaults(func=lambda a: run_command(list_apps, a))
    branches = asub.add_parser(
        "branches", parents=[conn], help="list an app's deployed branches and their state"
    )
    branches.add_argument("name")
    branches.set_defaults(func=lambda a: run_command(list_branches, a))
    delete = asub.add_parser("delete", parents=[conn], help="delete an app and what it owns")
    delete.add_argument("name")
    delete.set_defaults(func=lambda a: run_command(delete_app, a))

    remote = sub.add_parser(
        "git-remote", parents=[conn], help="add the paas remote to the current git repository"
    )
    remote.add_argument("app")
    remote.add_argument("--remote", default="paas", help="the remote's name")
    remote.add_argument("--data-dir", type=Path, default=Path.home() / ".paas")
    remote.set_defaults(func=run_git_remote)

    helper = sub.add_parser("git-credential", help="git credential helper (used by git-remote)")
    gitcredential.add_arguments(helper)
    helper.set_defaults(func=gitcredential.run_git_credential)


async def create_app(session: Session, args: argparse.Namespace) -> int:
    check_app_name(args.name)
    body = {
        "apiVersion": API_VERSION,
        "kind": "App",
        "metadata": {"name": args.name},
        "spec": {"mainBranch": args.main_branch},
    }
    async with session.client() as client:
        await client.create(APPS, body, session.namespace)
    print(f"app.paas.dev/{args.name} created")
    return 0


async def list_apps(session: Session, args: argparse.Namespace) -> int:
    namespace = "" if args.all_namespaces else session.namespace
    async with session.client() as client:
        table = await client.table(APPS, namespace)
    if not table.get("rows"):
        where = "any namespace" if args.all_namespaces else f"{session.namespace} namespace"
        print(f"No apps found in {where}.", file=sys.stderr)
        return 0
    view = TableView(namespace_column=args.all_namespaces)
    for line in format_lines([table_header(table, view), *table_rows(table, view)]):
        print(line)
    return 0


def branch_state(entry: dict[str, Any]) -> str:
    """A branch's state in words: an idle preview (scaled to zero) is not a broken one."""
    phase = str(entry.get("phase") or "")
    running = entry.get("instances")
    if phase != "Live" or not isinstance(running, int):
        return phase or "Unknown"
    if running == 0:
        return "Idle (scaled to zero; the next request starts it)"
    return f"Live ({running} instance{'s' if running != 1 else ''})"


def branch_lines(app: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """BRANCH, URL, BUILD, STATE rows of the App's status, and each branch's last failure."""
    rows, failures = [], []
    for entry in (app.get("status") or {}).get("branches") or []:
        name = str(entry.get("name") or "")
        rows.append(
            [name, str(entry.get("url") or ""), str(entry.get("build") or ""), branch_state(entry)]
        )
        if entry.get("lastFailure"):
            failures.append(f"{name}: last failure: {entry['lastFailure']}")
    return rows, failures


async def list_branches(session: Session, args: argparse.Namespace) -> int:
    async with session.client() as client:
        app = await client.get(APPS, args.name, session.namespace)
    rows, failures = branch_lines(app)
    if not rows:
        print(f"No branch of {args.name} is deployed yet.", file=sys.stderr)
        return 0
    for line in format_lines([["BRANCH", "URL", "BUILD", "STATE"], *rows]):
        print(line)
    for failure in failures:
        print(failure)
    return 0


async def delete_app(session: Session, args: argparse.Namespace) -> int:
    async with session.client() as client:
        await client.delete(APPS, args.name, session.namespace, propagation_policy="Background")
    print(f'app.paas.dev "{args.name}" deleted')
    return 0


def remote_url(git_base: str, app: str, namespace: str) -> str:
    base = git_base.rstrip("/")
    if namespace == DEFAULT_NAMESPACE:
        return f"{base}/{app}.git"
    return f"{base}/{namespace}/{app}.git"


def run_git_remote(args: argparse.Namespace) -> int:
    try:
        check_app_name(args.app)
        endpoints = json.loads((args.data_dir.expanduser() / "endpoints.json").read_text())
        base = endpoints["git"]
    except InvalidName as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError):
        print(
            f"error: no git server in {args.data_dir / 'endpoints.json'}; is `paas up` running?",
            file=sys.stderr,
        )
        return 1
    kubeconfig = (args.kubeconfig or default_kubeconfig()).expanduser().resolve()
    namespace = args.namespace or load_kubeconfig(kubeconfig, args.context).namespace
    url = remote_url(base, args.app, namespace)
    has = subprocess.run(
        ["git", "remote", "get-url", args.remote], capture_output=True, check=False
    )
    verb = "set-url" if has.returncode == 0 else "add"
    done = subprocess.run(["git", "remote", verb, args.remote, url], check=False)
    if done.returncode != 0:
        return 1
    helper = [sys.executable, "-m", "paas.cli.gitcredential", "--kubeconfig", str(kubeconfig)]
    if args.context:
        helper += ["--context", args.context]
    prefix = base.rstrip("/") + "/"
    subprocess.run(
        ["git", "config", f"credential.{prefix}.helper", "!" + shlex.join(helper)], check=True
    )
    subprocess.run(["git", "config", f"credential.{prefix}.useHttpPath", "false"], check=True)
    print(f"remote {args.remote} -> {url}")
    print(f"push with: git push {args.remote} main")
    return 0

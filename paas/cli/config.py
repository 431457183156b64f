"""``paas config [set KEY=VALUE... | unset KEY...] [--app A] [--branch B]``: config vars.

An app's config vars live in the Secret ``<app>-config`` (every branch) or
``<app>-<branch-slug>-config`` (one branch, whose values win), labelled
``paas.dev/app`` (and ``paas.dev/branch``) and owned by the App, so that
deleting the App deletes them. The App controller gives them to the
branch's pods through ``envFrom`` and hashes them into the pod template,
so a change rolls the pods (one ``set`` of several keys is one write and
one roll, as ``heroku config:set A=1 B=2``). Without ``--app``, the app is
the one the repository's ``paas`` remote pushes to.
"""

from __future__ import annotations

import argparse
import base64
import re
import subprocess
import sys
from typing import Any

from builder import names
from builder.kinds import APP_LABEL, APPS, BRANCH_LABEL, owner_reference
from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from paas.apps.desired import config_secret_names
from paas.cli.kinds import UsageError
from paas.cli.session import Session, connection_flags, run_command

SECRETS = BUILTIN_TYPES.require("", "Secret")
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # what a shell (and the App's env schema) accepts


def add_config_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    conn = connection_flags()
    scope = argparse.ArgumentParser(add_help=False)
    scope.add_argument("--app", default="", help="default: the app of the `paas` git remote")
    scope.add_argument("--branch", default="", help="only this branch (default: every branch)")
    p = sub.add_parser("config", parents=[conn, scope], help="show an app's config vars")
    p.set_defaults(func=lambda a: run_command(show_config, a))
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    s = csub.add_parser("set", parents=[conn, scope], help="set vars (rolls the app's pods)")
    s.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    s.set_defaults(func=lambda a: run_command(set_config, a))
    u = csub.add_parser("unset", parents=[conn, scope], help="remove vars (rolls the pods)")
    u.add_argument("keys", nargs="+", metavar="KEY")
    u.set_defaults(func=lambda a: run_command(unset_config, a))


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not KEY.match(key):
            raise UsageError(
                f'"{pair}": give KEY=VALUE, KEY made of letters, digits and "_", '
                "not starting with a digit"
            )
        out[key] = value
    return out


def remote_app() -> str:
    """The app the current repository's ``paas`` remote pushes to ("" when none)."""
    done = subprocess.run(
        ["git", "remote", "get-url", "paas"], capture_output=True, text=True, check=False
    )
    url = done.stdout.strip()
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") if url else ""


def target(args: argparse.Namespace) -> tuple[str, str]:
    """(app, Secret name) the flags name."""
    app = args.app or remote_app()
    if not app:
        raise UsageError("which app? pass --app, or run this in a repository with a paas remote")
    names.check_app_name(app)
    app_secret, branch_secret = config_secret_names(app, args.branch or "x")
    return app, branch_secret if args.branch else app_secret


async def _read(session: Session, args: argparse.Namespace) -> tuple[str, str, dict | None]:
    app, secret = target(args)
    async with session.client() as client:
        try:
            found = await client.get(SECRETS, secret, session.namespace)
        except errors.NotFound:
            found = None
    return app, secret, found


def decoded(secret: dict | None) -> dict[str, str]:
    data = (secret or {}).get("data") or {}
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in sorted(data.items())}


async def show_config(session: Session, args: argparse.Namespace) -> int:
    app, _, found = await _read(session, args)
    values = decoded(found)
    if not values:
        print(f"{app} has no config vars{' on ' + args.branch if args.branch else ''}.")
        return 0
    for key, value in values.items():
        print(f"{key}={value}")
    return 0


async def _write(session: Session, args: argparse.Namespace, change: dict[str, str | None]) -> int:
    app, name = target(args)
    async with session.client() as client:
        app_obj = await client.get(APPS, app, session.namespace)
        labels = {APP_LABEL: app}
        if args.branch:
            labels[BRANCH_LABEL] = names.branch_slug(app, args.branch)
        for _ in range(5):  # a concurrent writer costs a Conflict: read again
            try:
                current = await client.get(SECRETS, name, session.namespace)
            except errors.NotFound:
                current = None
            data = dict((current or {}).get("data") or {})
            for key, value in change.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = base64.b64encode(value.encode()).decode()
            meta: dict[str, Any] = {
                "name": name,
                "labels": labels,
                "ownerReferences": [owner_reference(app_obj)],
            }
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": meta,
                "type": "Opaque",
                "data": data,
            }
            try:
                if current is None:
                    await client.create(SECRETS, body, session.namespace)
                else:
                    meta["resourceVersion"] = current["metadata"]["resourceVersion"]
                    await client.replace(SECRETS, body, session.namespace)
                break
            except (errors.Conflict, errors.AlreadyExists):
                continue
        else:
            print(f"error: {name} kept changing; try again", file=sys.stderr)
            return 1
    where = f"{app} ({args.branch})" if args.branch else app
    print(
        f"{where}: {', '.join(change)} {'unset' if None in change.values() else 'set'}; "
        "the pods roll with the new values"
    )
    return 0


async def set_config(session: Session, args: argparse.Namespace) -> int:
    pairs = parse_pairs(args.pairs)
    return await _write(session, args, dict(pairs))


async def unset_config(session: Session, args: argparse.Namespace) -> int:
    for key in args.keys:
        if not KEY.match(key):
            raise UsageError(f'"{key}" is not a config var name')
    return await _write(session, args, dict.fromkeys(args.keys))

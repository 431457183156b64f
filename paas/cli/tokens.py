"""``paas token create``: more tokens for the same cluster, each naming a user and groups.

``--user alice --group team-a`` makes a token that authenticates as user
``alice`` in group ``team-a`` (and ``system:authenticated``); what it may do
is what RBAC bindings give that user and those groups. ``--role admin`` is
short for the group ``system:masters`` (all rights), ``--role node`` for
``system:nodes``.

``--node NAME`` makes a node's own token: user ``system:node:NAME`` in group
``system:nodes``, which the Node authorizer and NodeRestriction recognise (a
node reads only what its pods use and writes only its own Node, Lease and
pod status). ``paas node --token`` takes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.apiserver.auth import LEGACY_ROLE_GROUPS, add_token
from orchestrator.apiserver.identity import NODE_PREFIX, NODES

ROLES = tuple(LEGACY_ROLE_GROUPS)


def add_token_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("token", help="manage API tokens")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = tsub.add_parser("create", help="create a token and print it")
    create.add_argument(
        "--role",
        choices=ROLES,
        help="admin: in system:masters (every right); node: in system:nodes without a node "
        "name (a node's own token: --node NAME)",
    )
    create.add_argument("--user", default="", help="who the token is for (default: the role)")
    create.add_argument(
        "--node",
        default="",
        metavar="NAME",
        help=f"a node's own token: user {NODE_PREFIX}NAME in group {NODES}",
    )
    create.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="GROUP",
        help="a group the user is in (repeatable); RBAC bindings to it apply",
    )
    create.add_argument("--data-dir", type=Path, default=Path.home() / ".paas")
    create.set_defaults(func=run_token_create)


def run_token_create(args: argparse.Namespace) -> int:
    if args.node:
        if args.user or args.role:
            print("paas token create: --node names the user; drop --user/--role", file=sys.stderr)
            return 2
        args.user, args.group = f"{NODE_PREFIX}{args.node}", [NODES, *args.group]
    user = args.user or args.role
    if not user:
        print("paas token create: give --user NAME (and --group GROUP) or --role", file=sys.stderr)
        return 2
    if user.startswith("system:") and not args.role and not args.group and not args.node:
        # Kubernetes reserves the prefix for its own identities: say so, but allow it
        # (a node's system:node:<name> is made this way).
        print(f"note: {user!r} is in the reserved system: namespace", file=sys.stderr)
    groups = [*LEGACY_ROLE_GROUPS.get(args.role or "", ()), *args.group]
    path = args.data_dir.expanduser() / "tokens.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    print(add_token(path, user=user, groups=groups))
    return 0

"""``paas token create --role node|admin``: more tokens for the same cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.apiserver.auth import ROLES, add_token


def add_token_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("token", help="manage API tokens")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = tsub.add_parser("create", help="create a token and print it")
    create.add_argument("--role", choices=ROLES, default="node")
    create.add_argument("--user", default="", help="who the token is for (default: the role)")
    create.add_argument("--data-dir", type=Path, default=Path.home() / ".paas")
    create.set_defaults(func=run_token_create)


def run_token_create(args: argparse.Namespace) -> int:
    path = args.data_dir.expanduser() / "tokens.json"
    print(add_token(path, user=args.user or args.role, role=args.role))
    return 0

"""``paas auth can-i`` and ``paas auth whoami``: kubectl's questions, asked the same way.

``can-i VERB RESOURCE[/NAME]`` (or ``VERB /path``) sends a
SelfSubjectAccessReview and prints ``yes`` (exit 0) or ``no`` (exit 1), the
resource resolved through discovery as kubectl does (``deploy`` is
``deployments.apps``, ``pods/log`` a subresource). ``whoami`` sends a
SelfSubjectReview and prints the user, uid and groups the server sees.
"""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.api.resources import BUILTIN_TYPES
from paas.cli.kinds import discover
from paas.cli.session import Session, connection_flags, run_command

SSAR = BUILTIN_TYPES.require("authorization.k8s.io", "SelfSubjectAccessReview")
WHOAMI = BUILTIN_TYPES.require("authentication.k8s.io", "SelfSubjectReview")


def add_auth_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    common = connection_flags()
    p = sub.add_parser("auth", help="ask what you may do and who you are")
    verbs = p.add_subparsers(dest="auth_command", metavar="COMMAND", required=True)
    can = verbs.add_parser("can-i", parents=[common], help="may I VERB RESOURCE? (yes/no)")
    can.add_argument("verb")
    can.add_argument("resource", help="RESOURCE[/NAME], or a /path")
    can.add_argument("--subresource", default="")
    can.add_argument("-A", "--all-namespaces", action="store_true")
    can.set_defaults(func=lambda args: run_command(can_i, args))
    who = verbs.add_parser("whoami", parents=[common], help="the user the server sees")
    who.set_defaults(func=lambda args: run_command(whoami, args))


async def can_i(session: Session, args: argparse.Namespace) -> int:
    spec: dict[str, Any]
    async with session.client() as client:
        if args.resource.startswith("/"):
            spec = {"nonResourceAttributes": {"verb": args.verb, "path": args.resource}}
        else:
            word, _, name = args.resource.partition("/")
            found = (await discover(client)).resolve(word)[0]
            spec = {
                "resourceAttributes": {
                    "namespace": "" if args.all_namespaces else session.namespace or "default",
                    "verb": args.verb,
                    "group": found.group,
                    "resource": found.plural,
                    "subresource": args.subresource,
                    "name": name,
                }
            }
        review = {"apiVersion": SSAR.api_version, "kind": SSAR.kind, "spec": spec}
        status = (await client.create(SSAR, review)).get("status") or {}
    allowed = bool(status.get("allowed"))
    reason = status.get("reason") or ""
    print("yes" if allowed else (f"no - {reason}" if reason and not allowed else "no"))
    return 0 if allowed else 1


async def whoami(session: Session, args: argparse.Namespace) -> int:
    async with session.client() as client:
        review = await client.create(
            WHOAMI, {"apiVersion": WHOAMI.api_version, "kind": WHOAMI.kind}
        )
    info = (review.get("status") or {}).get("userInfo") or {}
    rows = [("ATTRIBUTE", "VALUE"), ("Username", str(info.get("username", "")))]
    if info.get("uid"):
        rows.append(("UID", str(info["uid"])))
    rows.append(("Groups", f"[{' '.join(info.get('groups') or [])}]"))
    for key, values in sorted((info.get("extra") or {}).items()):
        rows.append((f"Extra: {key}", f"[{' '.join(values)}]"))
    width = max(len(k) for k, _ in rows) + 3
    for key, value in rows:
        print(f"{key:<{width}}{value}")
    return 0

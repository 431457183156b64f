"""``paas builds`` (a table) and ``paas builds logs NAME`` (the build's output).

The table is the server's (the Build CRD's printer columns). The log is
kept by the builder and read from the URL the Build names in
``status.log``, with the kubeconfig's token.
"""

from __future__ import annotations

import argparse
import sys

import httpx

from builder.kinds import APP_LABEL, BUILDS
from paas.cli.printing import TableView, format_lines, table_header, table_rows
from paas.cli.session import Session, connection_flags, run_command


def add_builds_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    conn = connection_flags()
    p = sub.add_parser("builds", parents=[conn], help="list builds, or show one's log")
    p.add_argument("--app", default="", help="only this app's builds")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.set_defaults(func=lambda a: run_command(list_builds, a))
    bsub = p.add_subparsers(dest="builds_command", metavar="ACTION")
    logs = bsub.add_parser("logs", parents=[conn], help="print a build's output")
    logs.add_argument("name")
    logs.set_defaults(func=lambda a: run_command(build_log, a))


async def list_builds(session: Session, args: argparse.Namespace) -> int:
    namespace = "" if args.all_namespaces else session.namespace
    selector = f"{APP_LABEL}={args.app}" if args.app else ""
    async with session.client() as client:
        table = await client.table(BUILDS, namespace, label_selector=selector)
    if not table.get("rows"):
        print("No builds found.", file=sys.stderr)
        return 0
    view = TableView(namespace_column=args.all_namespaces)
    for line in format_lines([table_header(table, view), *table_rows(table, view)]):
        print(line)
    return 0


async def build_log(session: Session, args: argparse.Namespace) -> int:
    async with session.client() as client:
        build = await client.get(BUILDS, args.name, session.namespace)
    url = (build.get("status") or {}).get("log", "")
    if not url:
        print(f"error: build {args.name} has no log yet", file=sys.stderr)
        return 1
    headers = {"Authorization": f"Bearer {session.config.token}"}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=30) as response:
            if response.status_code != 200:
                print(f"error: {url}: {response.read().decode().strip()}", file=sys.stderr)
                return 1
            for chunk in response.iter_text():
                sys.stdout.write(chunk)
    except httpx.HTTPError as exc:
        print(f"error: cannot reach the builder at {url}: {exc}", file=sys.stderr)
        return 1
    return 0

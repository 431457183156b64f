"""The resource commands of ``paas``: apply, get, describe, delete (kubectl's shapes).

This module registers their parsers (``add_resource_parsers``, called by
``main``) and holds ``delete``; the other commands live in their own modules
(``apply``, ``get``/``watching``, ``describe``). Every command speaks only the
HTTP API through ``APIClient``: kinds come from the server's discovery
(``kinds``), manifests from files (``manifests``), and output is the server's
own Tables (``printing``). Each runs as one coroutine under
``session.run_command``, which maps failures to a kubectl-style line and
exit code 1.

Delete goes object by object, as kubectl does, so each prints its own
``deployment.apps "web" deleted`` and a missing one does not stop the rest.
"""

from __future__ import annotations

import argparse
import sys

from orchestrator.api import errors
from orchestrator.client.rest import APIClient
from paas.cli.apply import Located, each_manifest, run_apply
from paas.cli.describe import run_describe
from paas.cli.get import OUTPUTS, run_get
from paas.cli.kinds import APIResource, UsageError, discover, parse_selections
from paas.cli.session import Command, Session, connection_flags, report, run_command

CASCADE = {
    "background": "Background",
    "foreground": "Foreground",
    "orphan": "Orphan",
    "true": "Background",
    "false": "Orphan",
}


def add_resource_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    common = connection_flags()

    p = sub.add_parser("apply", parents=[common], help="create or update objects from manifests")
    p.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        help="file, directory or - (stdin); may repeat",
    )
    p.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take over fields other managers own instead of failing on them",
    )
    _bind(p, run_apply)

    p = sub.add_parser("get", parents=[common], help="list objects or show some of them")
    p.add_argument(
        "resources", nargs="+", metavar="RESOURCE", help="KIND [NAME...] or KIND/NAME..."
    )
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("-o", "--output", choices=OUTPUTS, default="")
    p.add_argument("-l", "--selector", default="", help="label selector (app=web,tier!=db)")
    p.add_argument("--field-selector", default="", help="field selector (metadata.name=web)")
    p.add_argument("-w", "--watch", action="store_true", help="after listing, print changes")
    p.add_argument("--show-labels", action="store_true")
    p.add_argument(
        "--show-managed-fields",
        action="store_true",
        help="keep metadata.managedFields in -o yaml|json",
    )
    _bind(p, run_get)

    p = sub.add_parser("describe", parents=[common], help="show objects in detail, with events")
    p.add_argument(
        "resources", nargs="+", metavar="RESOURCE", help="KIND [NAME...] or KIND/NAME..."
    )
    p.add_argument("-l", "--selector", default="")
    _bind(p, run_describe)

    p = sub.add_parser("delete", parents=[common], help="delete objects by name, label or file")
    p.add_argument(
        "resources", nargs="*", metavar="RESOURCE", help="KIND [NAME...] or KIND/NAME..."
    )
    p.add_argument("-f", "--filename", action="append", default=[])
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--all", action="store_true", help="every object of the kind in the namespace")
    p.add_argument(
        "--cascade",
        choices=sorted(CASCADE),
        default="background",
        help="what happens to dependents (default background)",
    )
    p.add_argument("--ignore-not-found", action="store_true")
    _bind(p, run_delete)


def _bind(p: argparse.ArgumentParser, command: Command) -> None:
    p.set_defaults(func=lambda args: run_command(command, args))


async def delete_one(
    client: APIClient, resource: APIResource, name: str, namespace: str, policy: str
) -> None:
    await client.delete(resource.resource_type(), name, namespace, propagation_policy=policy)
    print(f'{resource.kind_name} "{name}" deleted', flush=True)


async def run_delete(session: Session, args: argparse.Namespace) -> int:
    policy = CASCADE[args.cascade]
    if args.filename:
        if args.resources:
            raise UsageError("give either -f or KIND NAME..., not both")
        return await _delete_files(session, args, policy)
    selections = parse_selections(args.resources)
    if not selections:
        raise UsageError(
            "you must provide one or more resources by argument or filename, "
            "e.g. `paas delete deploy web` or `paas delete -f web.yaml`"
        )
    failed = False
    async with session.client() as client:
        catalogue = await discover(client)
        for sel in selections:
            for resource in catalogue.resolve_many(sel.kind_word):
                ns = session.namespace if resource.namespaced else ""
                names = list(sel.names)
                if not names:
                    if not (args.selector or args.all):
                        raise UsageError(
                            "resource(s) were provided, but no name was specified "
                            "(give names, -l SELECTOR or --all)"
                        )
                    listed = await client.list(
                        resource.resource_type(), ns, label_selector=args.selector
                    )
                    names = [o["metadata"]["name"] for o in listed.get("items") or []]
                    if not names:
                        print("No resources found", file=sys.stderr)
                for name in names:
                    try:
                        await delete_one(client, resource, name, ns, policy)
                    except errors.NotFound as exc:
                        if not args.ignore_not_found:
                            report(exc)
                            failed = True
    return 1 if failed else 0


async def _delete_files(session: Session, args: argparse.Namespace, policy: str) -> int:
    async def delete(client: APIClient, item: Located) -> None:
        await delete_one(client, item.resource, item.name, item.namespace, policy)

    return await each_manifest(
        session,
        args.filename,
        delete,
        "deleting",
        ignore=lambda exc: isinstance(exc, errors.NotFound) and args.ignore_not_found,
    )

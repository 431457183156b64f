"""``paas get``: list or read objects, printed as the server's Table or as YAML/JSON.

The words on the command line become ``Target``s (a resource, a namespace and
maybe names) through discovery; each target is fetched on its own and printed
in order, a blank line between kinds, as kubectl does. A missing name is
reported and the rest still print (exit 1 at the end). Table output asks the
server for ``meta.k8s.io/v1`` Tables; ``-o yaml|json|name`` asks for the
plain objects, so every field round-trips into ``paas apply``
(``metadata.managedFields`` only with ``--show-managed-fields``, as kubectl).

``-w`` lists first, prints that, then watches from the list's
resourceVersion (the server sends only newer events) and prints one row per
event until the stream ends or the user presses Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.client.rest import APIClient
from paas.cli.kinds import APIResource, Catalogue, UsageError, discover, parse_selections
from paas.cli.printing import TableView, format_lines, print_objects, table_header, table_rows
from paas.cli.session import Session, report
from paas.cli.watching import watch_target

OUTPUTS = ("wide", "yaml", "json", "name")


@dataclass(frozen=True)
class Target:
    """One resource to read: its whole collection (selectors apply) or the named objects."""

    resource: APIResource
    namespace: str  # "" = all namespaces, or a cluster-scoped kind
    names: tuple[str, ...] = ()


def plan_targets(
    catalogue: Catalogue, words: list[str], namespace: str, all_namespaces: bool
) -> list[Target]:
    """The Targets a command line asks for, in order."""
    selections = parse_selections(words)
    if not selections:
        raise UsageError(
            "you must specify the type of resource to get, e.g. "
            "`paas get pods` or `paas get deploy web`"
        )
    out: list[Target] = []
    for sel in selections:
        resources = catalogue.resolve_many(sel.kind_word)
        if sel.names and len(resources) > 1:
            raise UsageError(f'"{sel.kind_word}" names several kinds; names need one kind')
        for res in resources:
            ns = "" if not res.namespaced or all_namespaces else namespace
            out.append(Target(res, ns, sel.names))
    return out


def empty_message(targets: list[Target], namespace: str) -> str:
    if any(t.resource.namespaced and t.namespace for t in targets):
        return f"No resources found in {namespace} namespace."
    return "No resources found"


def _view(args: argparse.Namespace, target: Target, several: bool) -> TableView:
    return TableView(
        wide=args.output == "wide",
        namespace_column=args.all_namespaces and target.resource.namespaced,
        show_labels=args.show_labels,
        name_prefix=f"{target.resource.kind_name}/" if several else "",
    )


async def _table(client: APIClient, target: Target, args: argparse.Namespace) -> tuple[Obj, bool]:
    """One Table with every row the target asks for, and whether a name was missing."""
    rt = target.resource.resource_type()
    if not target.names:
        return await client.table(
            rt, target.namespace, label_selector=args.selector, field_selector=args.field_selector
        ), False
    merged: Obj = {}
    missing = False
    for name in target.names:
        try:
            table = await client.table(rt, target.namespace, name)
        except errors.NotFound as exc:
            report(exc)
            missing = True
            continue
        if not merged:
            merged = table
        else:
            merged["rows"] = merged.get("rows", []) + (table.get("rows") or [])
    return merged, missing


async def _objects(
    client: APIClient, target: Target, args: argparse.Namespace
) -> tuple[list[Obj], bool]:
    rt = target.resource.resource_type()
    if not target.names:
        listed = await client.list(
            rt, target.namespace, label_selector=args.selector, field_selector=args.field_selector
        )
        items = listed.get("items") or []
        for item in items:
            item.setdefault("apiVersion", target.resource.api_version)
            item.setdefault("kind", target.resource.kind)
        return items, False
    found, missing = [], False
    for name in target.names:
        try:
            found.append(await client.get(rt, name, target.namespace))
        except errors.NotFound as exc:
            report(exc)
            missing = True
    return found, missing


async def run_get(session: Session, args: argparse.Namespace) -> int:
    async with session.client() as client:
        catalogue = await discover(client)
        targets = plan_targets(catalogue, args.resources, session.namespace, args.all_namespaces)
        if args.watch:
            if len(targets) != 1 or len(targets[0].names) > 1:
                raise UsageError(
                    "watch is only supported on individual resources and resource "
                    f"collections, but {len(targets)} resources were found"
                )
            return await watch_target(
                client,
                targets[0],
                args,
                _view(args, targets[0], False),
                empty_message(targets, session.namespace),
            )
        if args.output in ("yaml", "json", "name"):
            objs: list[Obj] = []
            failed = False
            for target in targets:
                found, missing = await _objects(client, target, args)
                objs += found
                failed |= missing
            single = len(targets) == 1 and len(targets[0].names) == 1
            if not args.show_managed_fields:  # server bookkeeping: hidden, as kubectl does
                for obj in objs:
                    obj.get("metadata", {}).pop("managedFields", None)
            if objs or (not failed and args.output != "name"):
                print_objects(objs, args.output, single)
            if not objs and not any(t.names for t in targets):
                print(empty_message(targets, session.namespace), file=sys.stderr)
            return 1 if failed else 0
        return await _print_tables(client, targets, args, session.namespace)


async def _print_tables(
    client: APIClient, targets: list[Target], args: argparse.Namespace, namespace: str
) -> int:
    failed = printed = False
    for target in targets:
        table, missing = await _table(client, target, args)
        failed |= missing
        if not table.get("rows"):
            continue
        view = _view(args, target, len(targets) > 1)
        if printed:
            print()
        print("\n".join(format_lines([table_header(table, view), *table_rows(table, view)])))
        printed = True
    if not printed and not any(t.names for t in targets):
        print(empty_message(targets, namespace), file=sys.stderr)
    return 1 if failed else 0

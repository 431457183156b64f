"""``paas get -w``: print what there is, then a line per change, until interrupted.

List, then watch from the list's resourceVersion: the server replays nothing
older, so no object is printed twice and nothing between the two requests is
lost. With table output every event is a one-row Table; rows are padded to
the widths of what was printed first so the columns stay under the header
(the header is printed once, with the first row). The stream ends when the
server closes it (exit 0, as kubectl) or with Ctrl-C; a watch that expired
(410) is reported as an error rather than silently re-listed, because the
user would otherwise miss the changes in between.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from orchestrator.api.objects import Obj
from orchestrator.client.rest import APIClient
from paas.cli.printing import (
    TableView,
    column_widths,
    pad_row,
    print_objects,
    table_header,
    table_rows,
    to_json,
    to_yaml,
)

if TYPE_CHECKING:
    from paas.cli.get import Target


def _field_selector(target: Target, args: argparse.Namespace) -> str:
    parts = [args.field_selector] if args.field_selector else []
    if target.names:
        parts.append(f"metadata.name={target.names[0]}")
    return ",".join(parts)


async def watch_target(
    client: APIClient, target: Target, args: argparse.Namespace, view: TableView, empty: str
) -> int:
    """Print the target's objects, then every change to them."""
    if args.output in ("yaml", "json", "name"):
        return await _watch_objects(client, target, args)
    rt = target.resource.resource_type()
    fields = _field_selector(target, args)
    table = await client.table(
        rt, target.namespace, label_selector=args.selector, field_selector=fields
    )
    header = table_header(table, view)
    rows = table_rows(table, view)
    widths = column_widths([header, *rows])
    header_printed = bool(rows)
    if rows:
        for line in (header, *rows):
            print(pad_row(line, widths))
    elif not target.names:
        print(empty, file=sys.stderr)
    sys.stdout.flush()
    version = str(table.get("metadata", {}).get("resourceVersion", ""))
    async for _type, event in client.watch(
        rt,
        target.namespace,
        resource_version=version,
        label_selector=args.selector,
        field_selector=fields,
        as_table=True,
    ):
        if event.get("kind") != "Table":
            continue
        if not event.get("columnDefinitions"):
            event = {**event, "columnDefinitions": table.get("columnDefinitions") or []}
        lines = table_rows(event, view)
        if not header_printed:
            header = table_header(event, view)
            widths = column_widths([header, *lines])
            print(pad_row(header, widths))
            header_printed = True
        for line in lines:
            print(pad_row(line, widths), flush=True)
    return 0


async def _watch_objects(client: APIClient, target: Target, args: argparse.Namespace) -> int:
    rt = target.resource.resource_type()
    fields = _field_selector(target, args)
    listed = await client.list(
        rt, target.namespace, label_selector=args.selector, field_selector=fields
    )
    for obj in listed.get("items") or []:
        obj.setdefault("apiVersion", target.resource.api_version)
        obj.setdefault("kind", target.resource.kind)
        _print_one(obj, args.output)
    version = str(listed.get("metadata", {}).get("resourceVersion", ""))
    async for _type, obj in client.watch(
        rt,
        target.namespace,
        resource_version=version,
        label_selector=args.selector,
        field_selector=fields,
    ):
        _print_one(obj, args.output)
    return 0


def _print_one(obj: Obj, output: str) -> None:
    if output == "name":
        print_objects([obj], "name", True)
    elif output == "json":
        print(to_json(obj))
    else:
        print("---")
        print(to_yaml(obj), end="")
    sys.stdout.flush()

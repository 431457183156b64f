"""``paas describe``: one object as readable text, with the Events about it.

A description is a list of rows of cells (``Row``), rendered the way
kubectl's describe uses Go's tabwriter: a row of two cells is ``key: value``,
and every run of such rows aligns its values two spaces after the widest key;
a one-cell row (a section heading, a preformatted table line) ends the run.
Kind-specific content lives in ``describers`` as pure functions from the
object (and, for a Service, its Endpoints) to rows; a kind without one gets
its metadata plus ``spec`` and ``status`` as indented YAML, so every kind the
server serves can be described.

Events are listed with ``fieldSelector=involvedObject.name=..,
involvedObject.namespace=..`` and filtered to the object's kind; failing to
read them (no permission, say) leaves the section as ``<none>`` rather than
failing the command.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from orchestrator.api import errors
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.tables import human_duration
from orchestrator.client.rest import APIClient
from paas.cli import describers
from paas.cli.kinds import (
    APIResource,
    Catalogue,
    NoKindMatch,
    UsageError,
    discover,
    parse_selections,
)
from paas.cli.printing import format_lines
from paas.cli.session import Session, report

Row = tuple[str, ...]
GAP = 2


def render(rows: list[Row]) -> str:
    """Rows as text: runs of key/value rows aligned, one-cell rows as they are."""
    out: list[str] = []
    i = 0
    while i < len(rows):
        if len(rows[i]) < 2:
            out.append(rows[i][0] if rows[i] else "")
            i += 1
            continue
        j = i
        while j < len(rows) and len(rows[j]) >= 2:
            j += 1
        width = max(len(r[0]) for r in rows[i:j])
        out += [(r[0].ljust(width + GAP) + r[1]).rstrip() for r in rows[i:j]]
        i = j
    return "\n".join(out) + "\n"


def event_rows(events: list[Obj], now: datetime) -> list[Row]:
    """The ``Events:`` section (a table of Type, Reason, Age, From, Message)."""
    if not events:
        return [("Events:", "<none>")]
    lines = [
        ["Type", "Reason", "Age", "From", "Message"],
        ["----", "------", "----", "----", "-------"],
    ]
    for ev in sorted(events, key=_event_time):
        lines.append(
            [
                str(ev.get("type", "")),
                str(ev.get("reason", "")),
                _event_age(ev, now),
                _event_source(ev),
                str(ev.get("message", "")).strip(),
            ]
        )
    return [("Events:",), *((f"  {line}",) for line in format_lines(lines, gap=2))]


def _event_time(ev: Obj) -> str:
    return str(
        ev.get("lastTimestamp")
        or ev.get("eventTime")
        or metadata_of(ev).get("creationTimestamp")
        or ""
    )


def _age_of(stamp: str, now: datetime) -> str:
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return "<unknown>"
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return human_duration((now - when).total_seconds())


def _event_age(ev: Obj, now: datetime) -> str:
    last = _age_of(_event_time(ev), now)
    count = int(ev.get("count") or (ev.get("series") or {}).get("count") or 1)
    if count > 1 and ev.get("firstTimestamp"):
        return f"{last} (x{count} over {_age_of(str(ev['firstTimestamp']), now)})"
    return last


def _event_source(ev: Obj) -> str:
    source = ev.get("source") or {}
    name = (
        source.get("component")
        or ev.get("reportingComponent")
        or ev.get("reportingController")
        or ""
    )
    if source.get("host"):
        name = f"{name}, {source['host']}" if name else source["host"]
    return str(name)


def _find(catalogue: Catalogue, kind: str) -> APIResource | None:
    try:
        return catalogue.for_kind("v1", kind)
    except NoKindMatch:
        return None


async def events_for(client: APIClient, catalogue: Catalogue, obj: Obj) -> list[Obj]:
    """Events whose involvedObject is ``obj`` (empty when they cannot be read)."""
    events = _find(catalogue, "Event")
    if events is None:
        return []
    meta = metadata_of(obj)
    namespace = str(meta.get("namespace", ""))
    selector = f"involvedObject.name={meta.get('name', '')},involvedObject.namespace={namespace}"
    try:
        listed = await client.list(events.resource_type(), namespace, field_selector=selector)
    except errors.APIError:
        return []
    kind = obj.get("kind")
    return [
        ev
        for ev in listed.get("items") or []
        if (ev.get("involvedObject") or {}).get("kind") in (kind, None)
    ]


async def describe_object(
    client: APIClient, catalogue: Catalogue, resource: APIResource, obj: Obj, now: datetime
) -> str:
    """The full text for one object, Events included."""
    extra: Obj = {}
    if resource.group == "" and resource.kind == "Service":
        extra["endpoints"] = await _endpoints(client, catalogue, obj)
    rows = describers.describe(obj, **extra)
    rows += event_rows(await events_for(client, catalogue, obj), now)
    return render(rows)


async def _endpoints(client: APIClient, catalogue: Catalogue, svc: Obj) -> Obj | None:
    endpoints = _find(catalogue, "Endpoints")
    if endpoints is None:
        return None
    meta = metadata_of(svc)
    try:
        return await client.get(
            endpoints.resource_type(), str(meta.get("name", "")), str(meta.get("namespace", ""))
        )
    except errors.APIError:
        return None


async def run_describe(session: Session, args: argparse.Namespace) -> int:
    selections = parse_selections(args.resources)
    if not selections:
        raise UsageError(
            "you must specify the type of resource to describe, e.g. `paas describe deploy web`"
        )
    failed = False
    first = True
    now = datetime.now(UTC)
    async with session.client() as client:
        catalogue = await discover(client)
        for sel in selections:
            for resource in catalogue.resolve_many(sel.kind_word):
                rt = resource.resource_type()
                ns = session.namespace if resource.namespaced else ""
                if sel.names:
                    objs = []
                    for name in sel.names:
                        try:
                            objs.append(await client.get(rt, name, ns))
                        except errors.NotFound as exc:
                            report(exc)
                            failed = True
                else:
                    listed = await client.list(rt, ns, label_selector=args.selector)
                    objs = list(listed.get("items") or [])
                for obj in objs:
                    obj.setdefault("kind", resource.kind)
                    obj.setdefault("apiVersion", resource.api_version)
                    text = await describe_object(client, catalogue, resource, obj, now)
                    print(text if first else f"\n\n{text}", end="", flush=True)
                    first = False
    return 1 if failed else 0

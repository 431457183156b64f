"""``paas apply -f``: make the cluster hold what the manifests say.

Each object is sent as a server-side apply (``PATCH`` with
``application/apply-patch+yaml``, ``fieldManager=paas``), which creates an
absent object (201) and merges into a present one, keeping fields other
writers own (a controller's annotations, an allocated cluster IP). A GET
first tells ``configured`` from ``unchanged``: the object before and after,
apart from its resourceVersion and managedFields (an apply that only takes
ownership of fields, as re-applying a ``paas get -o yaml`` dump does, changes
no field).

All manifests are read and parsed before anything is sent, so a typo in the
third file changes nothing. Server errors do not stop the run: every object
is tried, each failure is reported on stderr as kubectl does, and the exit
code is 1 if any failed. ``Warning`` headers (unknown fields, under the
default ``fieldValidation=Warn``) go to stderr as ``Warning: ...``.

Fields another manager owns with another value are a conflict: the object
is left alone and each field is listed with its owner, with the ways out
(``--force-conflicts`` takes them over). ``metadata.managedFields`` in a
manifest (a ``paas get --show-managed-fields`` dump) is server bookkeeping
and is not sent.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import metadata_of
from orchestrator.client.rest import APIClient, resource_path
from paas.cli.kinds import APIResource, Catalogue, NoKindMatch, UsageError, discover
from paas.cli.manifests import Manifest, read_manifests
from paas.cli.session import Session, describe_error

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "paas"
_WARNING = re.compile(r'\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Located:
    """A manifest with the resource and namespace it addresses."""

    manifest: Manifest
    resource: APIResource
    namespace: str  # "" for cluster-scoped kinds

    @property
    def name(self) -> str:
        return str(self.manifest.obj["metadata"]["name"])

    @property
    def display(self) -> str:
        """``deployment.apps/web``."""
        return f"{self.resource.kind_name}/{self.name}"


def parse_warnings(values: list[str]) -> list[str]:
    """The texts of ``Warning: 299 - "text"`` headers (several may share one header)."""
    out = []
    for value in values:
        found = _WARNING.findall(value)
        if not found and value.strip():
            out.append(value.strip())
        out += [re.sub(r"\\(.)", r"\1", text) for text in found]
    return out


def locate(catalogue: Catalogue, manifest: Manifest, session: Session) -> Located:
    """Which resource and namespace a manifest addresses; refuses a clashing ``-n``."""
    obj = manifest.obj
    resource = catalogue.for_kind(obj["apiVersion"], obj["kind"])
    if not resource.namespaced:
        return Located(manifest, resource, "")
    own = str(obj["metadata"].get("namespace") or "")
    if own and session.namespace_given and own != session.namespace:
        raise UsageError(
            f'the namespace from the provided object "{own}" does not match the namespace '
            f"\"{session.namespace}\". You must pass '--namespace={own}' to perform this "
            "operation."
        )
    return Located(manifest, resource, own or session.namespace)


async def apply_one(client: APIClient, item: Located, *, force: bool = False) -> str:
    """Apply one object; returns ``created``, ``configured`` or ``unchanged``."""
    rt = item.resource.resource_type()
    current = None
    try:
        current = await client.get(rt, item.name, item.namespace)
    except errors.NotFound:
        pass
    body = json.loads(json.dumps(item.manifest.obj))
    if item.namespace:
        body["metadata"]["namespace"] = item.namespace
    body["metadata"].pop("managedFields", None)
    params = {"fieldManager": FIELD_MANAGER, "fieldValidation": "Warn"}
    if force:
        params["force"] = "true"
    response = await client.request(
        "PATCH",
        resource_path(rt, item.namespace, item.name),
        params=params,
        content=json.dumps(body).encode(),
        content_type=APPLY_PATCH,
    )
    for text in parse_warnings(response.header_list("warning")):
        print(f"Warning: {text}", file=sys.stderr, flush=True)
    if response.status_code == 201 or current is None:
        return "created"
    return "unchanged" if _content(response.json()) == _content(current) else "configured"


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without its version and field ownership: what ``unchanged`` is about."""
    meta = {
        k: v for k, v in metadata_of(obj).items() if k not in ("resourceVersion", "managedFields")
    }
    return {**obj, "metadata": meta}


async def run_apply(session: Session, args: argparse.Namespace) -> int:
    force = bool(getattr(args, "force_conflicts", False))

    async def apply(client: APIClient, item: Located) -> None:
        print(f"{item.display} {await apply_one(client, item, force=force)}", flush=True)

    return await each_manifest(session, args.filename, apply, "applying")


def conflict_report(exc: errors.APIError, item: Located) -> str | None:
    """Apply conflicts as a user reads them: each field with its owner, then the ways out."""
    if not isinstance(exc, errors.Conflict):
        return None
    causes = [
        c
        for c in (exc.details or {}).get("causes") or []
        if isinstance(c, dict) and c.get("reason") == "FieldManagerConflict"
    ]
    if not causes:
        return None
    source = item.manifest.source
    count = len(causes)
    lines = [
        f'error: {item.display} from "{source}": {count} field{"s" if count > 1 else ""} '
        "managed by others, nothing changed:"
    ]
    width = max(len(str(c.get("field", ""))) for c in causes)
    for c in causes:
        owner = str(c.get("message", "")).removeprefix("conflict with ")
        lines.append(f"  {str(c.get('field', '')).ljust(width)}  owned by {owner}")
    lines += [
        "To take them over, apply again with --force-conflicts; to leave them to their "
        "owners, remove them from the manifest; to share them, set them to the live values.",
    ]
    return "\n".join(lines)


async def each_manifest(
    session: Session,
    filenames: list[str],
    act: Callable[[APIClient, Located], Awaitable[None]],
    verb: str,
    *,
    ignore: Callable[[errors.APIError], bool] = lambda _exc: False,
) -> int:
    """``act`` on every object of the manifests, going on past failures; 1 if any failed.

    An object whose kind the server does not serve, or whose write the server
    refuses, is reported in kubectl's words; an unreachable server ends it all.
    """
    manifests = read_manifests(filenames)
    failed = False
    async with session.client() as client:
        catalogue = await discover(client)
        for manifest in manifests:
            try:
                item = locate(catalogue, manifest, session)
            except (NoKindMatch, UsageError) as exc:
                print(locate_error(exc, manifest), file=sys.stderr, flush=True)
                failed = True
                continue
            try:
                await act(client, item)
            except errors.APIError as exc:
                if exc.__cause__ is not None:  # the server is unreachable: stop here
                    raise
                if ignore(exc):
                    continue
                listed = conflict_report(exc, item)
                print(listed or write_error(exc, manifest, verb), file=sys.stderr, flush=True)
                failed = True
    return 1 if failed else 0


def write_error(exc: errors.APIError, manifest: Manifest, verb: str = "applying") -> str:
    line = describe_error(exc)
    prefix = f"Error from server ({exc.reason}): "
    if line.startswith(prefix):
        return f'{prefix}error when {verb} "{manifest.source}": {exc.message}'
    return line


def locate_error(exc: Exception, manifest: Manifest) -> str:
    if isinstance(exc, NoKindMatch):
        meta = manifest.obj["metadata"]
        return (
            f'error: resource mapping not found for name: "{meta["name"]}" from '
            f'"{manifest.source}": {exc}\nensure the kind is served by the API server'
        )
    return f"error: {exc}"

"""Apps and Builds as the builder writes them through the API.

- ``ensure_app``: the App a push names, made on the first push (an empty
  spec: the API server's schema defaults ``mainBranch: main``).
- ``start_build``: a Build named ``<app>-<slug>-<sha7>`` (a second build of
  the same commit, after a failure or a deleted branch, gets a generated
  name with that prefix), labelled with app and branch slug, owned by the
  App so that deleting the App removes its Builds, phase Running.
- ``finish_build``: phase, result, message and completionTime in status.
- ``delete_branch``: every object labelled with the app and the branch slug,
  of the kinds a branch has; kinds not served yet are skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from builder import names
from builder.kinds import (
    API_VERSION,
    APP_LABEL,
    APPS,
    BRANCH_ANNOTATION,
    BRANCH_KINDS,
    BRANCH_LABEL,
    BUILDS,
    BuildStatus,
    owner_reference,
)
from orchestrator.api import errors
from orchestrator.client.rest import APIClient

Obj = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def get_app(client: APIClient, namespace: str, app: str) -> Obj | None:
    try:
        return await client.get(APPS, app, namespace)
    except errors.NotFound:
        return None


async def ensure_app(client: APIClient, namespace: str, app: str) -> tuple[Obj, bool]:
    """The App, made when missing; True when this call made it."""
    found = await get_app(client, namespace, app)
    if found is not None:
        return found, False
    body = {"apiVersion": API_VERSION, "kind": "App", "metadata": {"name": app}, "spec": {}}
    try:
        return await client.create(APPS, body, namespace), True
    except errors.AlreadyExists:  # two first pushes at once
        return await client.get(APPS, app, namespace), False


def branch_labels(app: str, branch: str) -> dict[str, str]:
    return {APP_LABEL: app, BRANCH_LABEL: names.branch_slug(app, branch)}


def branch_selector(app: str, branch: str) -> str:
    return ",".join(f"{k}={v}" for k, v in branch_labels(app, branch).items())


async def start_build(client: APIClient, app: Obj, branch: str, commit: str, log_url: str) -> Obj:
    """A new Build, phase Running; ``log_url`` has ``{name}`` for the Build's name."""
    namespace, name = app["metadata"]["namespace"], app["metadata"]["name"]
    wanted = names.build_name(name, branch, commit)
    meta: Obj = {
        "name": wanted,
        "labels": branch_labels(name, branch),
        "annotations": {BRANCH_ANNOTATION: branch},
        "ownerReferences": [owner_reference(app)],
    }
    body = {
        "apiVersion": API_VERSION,
        "kind": "Build",
        "metadata": meta,
        "spec": {"app": name, "branch": branch, "commit": commit},
    }
    try:
        build = await client.create(BUILDS, body, namespace)
    except errors.AlreadyExists:
        del meta["name"]
        meta["generateName"] = wanted + "-"
        build = await client.create(BUILDS, body, namespace)
    status: BuildStatus = {
        "phase": "Running",
        "startTime": now(),
        "log": log_url.format(name=build["metadata"]["name"]),
    }
    return await client.patch(
        BUILDS, build["metadata"]["name"], {"status": status}, namespace, subresource="status"
    )


async def annotate_build(client: APIClient, build: Obj, annotations: dict[str, str]) -> Obj:
    meta = build["metadata"]
    patch = {"metadata": {"annotations": annotations}}
    return await client.patch(BUILDS, meta["name"], patch, meta["namespace"])


async def finish_build(
    client: APIClient, build: Obj, phase: str, *, result: str = "", message: str = ""
) -> Obj:
    status: BuildStatus = {"phase": phase, "completionTime": now()}
    if result:
        status["result"] = result
    if message:
        status["message"] = message
    meta = build["metadata"]
    return await client.patch(
        BUILDS, meta["name"], {"status": status}, meta["namespace"], subresource="status"
    )


async def delete_branch(client: APIClient, namespace: str, app: str, branch: str) -> list[str]:
    """Delete the branch's objects; ``kind/name`` of each one deleted."""
    selector = branch_selector(app, branch)
    gone = []
    for rt in BRANCH_KINDS:
        try:
            items = (await client.list(rt, namespace, label_selector=selector))["items"]
        except errors.NotFound:  # a kind not served (yet)
            continue
        for obj in items:
            try:
                await client.delete(rt, obj["metadata"]["name"], namespace)
            except errors.NotFound:
                continue
            gone.append(f"{rt.kind.lower()}/{obj['metadata']['name']}")
    return gone

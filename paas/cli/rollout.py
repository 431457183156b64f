"""``paas rollout status|history|undo|pause|resume|restart deployment/NAME``: kubectl's shapes.

Every subcommand talks to the API only, as kubectl does, and prints the
same lines (``deployment.apps/web rolled back``, ``Waiting for deployment
"web" rollout to finish: 1 of 3 updated replicas are available...``):

- ``status`` lists the Deployment by name and watches it from the list's
  resourceVersion, printing a line per event until the rollout is done
  (exit 0), the progress deadline is exceeded or ``--timeout`` passes
  (exit 1); a watch the server ends is resumed by listing again.
- ``history`` reads the revision annotation of the ReplicaSets the
  Deployment controls (``--revision N`` shows that revision's template).
- ``undo`` sends kubectl's JSON patch: the chosen ReplicaSet's template,
  minus ``pod-template-hash``, and the annotations; the controller then
  renumbers that revision.
- ``pause``/``resume`` patch ``spec.paused``; ``restart`` stamps the template
  with ``kubectl.kubernetes.io/restartedAt`` so every pod is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime

from orchestrator.api import errors
from orchestrator.api.conditions import condition_of
from orchestrator.api.objects import Obj, annotations_of, controller_ref, labels_of, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.selectors import format_label_selector
from orchestrator.client.rest import APIClient
from paas.cli.kinds import UsageError
from paas.cli.session import Session, connection_flags, run_command

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
_KIND_WORDS = {"deployment", "deployments", "deploy", "deployment.apps", "deployments.apps"}


_rt = BUILTIN_TYPES.require
DEPLOYMENTS = _rt("apps", "Deployment")
REPLICASETS = _rt("apps", "ReplicaSet")


class RolloutFailed(Exception):
    """The rollout cannot finish (progress deadline exceeded, wrong revision)."""


def add_rollout_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    common = connection_flags()
    p = sub.add_parser("rollout", help="manage the rollout of a deployment")
    verbs = p.add_subparsers(dest="rollout_command", metavar="COMMAND", required=True)
    for verb, help_, command in (
        ("status", "show the status of the rollout, waiting until it ends", run_status),
        ("history", "list the revisions of a deployment", run_history),
        ("undo", "roll back to a previous revision", run_undo),
        ("pause", "stop rolling out changes to a deployment", run_pause),
        ("resume", "resume a paused deployment", run_resume),
        ("restart", "replace every pod of a deployment", run_restart),
    ):
        v = verbs.add_parser(verb, parents=[common], help=help_)
        v.add_argument("target", nargs="+", metavar="deployment/NAME")
        if verb == "status":
            v.add_argument("-w", "--watch", default="true", choices=("true", "false"))
            v.add_argument("--revision", type=int, default=0, help="wait for this revision")
            v.add_argument("--timeout", default="0", help="give up after this long (30s, 5m)")
        elif verb == "history":
            v.add_argument("--revision", type=int, default=0, help="show this revision's template")
        elif verb == "undo":
            v.add_argument("--to-revision", type=int, default=0, help="default: the previous one")
        v.set_defaults(func=lambda args, command=command: run_command(command, args))


def deployment_name(words: list[str]) -> str:
    """``deployment/web``, ``deploy/web`` or ``deployment web`` -> ``web``."""
    if len(words) == 1 and "/" in words[0]:
        kind, _, name = words[0].partition("/")
    elif len(words) == 2:
        kind, name = words
    else:
        raise UsageError("give one deployment, as deployment/NAME")
    if kind.lower() not in _KIND_WORDS:
        raise UsageError(f'no rollout support for "{kind}": only deployments roll out')
    if not name:
        raise UsageError("give one deployment, as deployment/NAME")
    return name


def parse_duration(text: str) -> float:
    """``30s``, ``5m``, ``1h30m`` or plain seconds; 0 means no limit."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f'invalid duration "{text}" (use 30s, 5m, 1h)')
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def status_message(d: Obj, revision: int = 0) -> tuple[str, bool]:
    """kubectl's line for a Deployment, and whether the rollout is done."""
    meta, spec, status = d["metadata"], d.get("spec", {}), d.get("status", {})
    name = meta["name"]
    if revision > 0:
        current = int((meta.get("annotations") or {}).get(REVISION, "0") or 0)
        if current != revision:
            raise RolloutFailed(
                f"desired revision ({revision}) is different from the running revision ({current})"
            )
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...", False
    progressing = condition_of(d, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        raise RolloutFailed(f'deployment "{name}" exceeded its progress deadline')
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0))
    replicas = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < wanted:
        return f"{waiting}{updated} out of {wanted} new replicas have been updated...", False
    if replicas > updated:
        return f"{waiting}{replicas - updated} old replicas are pending termination...", False
    if available < updated:
        return f"{waiting}{available} of {updated} updated replicas are available...", False
    return f'deployment "{name}" successfully rolled out', True


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


async def run_status(session: Session, args: argparse.Namespace) -> int:
    name = deployment_name(args.target)
    timeout = parse_duration(args.timeout)
    async with session.client() as client:
        await client.get(DEPLOYMENTS, name, session.namespace)
        try:
            async with asyncio.timeout(timeout or None):
                return await _follow(client, name, session.namespace, args)
        except TimeoutError:
            return _fail("timed out waiting for the condition")
        except RolloutFailed as exc:
            return _fail(str(exc))


async def _follow(client: APIClient, name: str, namespace: str, args: argparse.Namespace) -> int:
    fields = f"metadata.name={name}"
    while True:
        listed = await client.list(DEPLOYMENTS, namespace, field_selector=fields)
        for d in listed.get("items") or []:
            if _report(d, args):
                return 0
        if args.watch == "false":
            return 0
        version = str(listed.get("metadata", {}).get("resourceVersion", ""))
        try:
            async for kind, d in client.watch(
                DEPLOYMENTS,
                namespace,
                resource_version=version,
                field_selector=fields,
                timeout_seconds=400,
                bookmarks=True,
            ):
                if kind == "DELETED":
                    raise RolloutFailed("object has been deleted")
                if kind in ("ADDED", "MODIFIED") and _report(d, args):
                    return 0
        except errors.Gone:
            continue


def _report(d: Obj, args: argparse.Namespace) -> bool:
    line, done = status_message(d, args.revision)
    print(line, flush=True)
    return done or args.watch == "false"


async def _owned_sets(client: APIClient, d: Obj) -> list[Obj]:
    selector = format_label_selector(d.get("spec", {}).get("selector"))
    listed = await client.list(REPLICASETS, d["metadata"]["namespace"], label_selector=selector)
    uid = d["metadata"]["uid"]
    return [
        rs
        for rs in listed.get("items") or []
        if (ref := controller_ref(rs)) is not None and ref.get("uid") == uid
    ]


def _revision(rs: Obj) -> int:
    try:
        return int(annotations_of(rs).get(REVISION, ""))
    except ValueError:
        return -1


async def run_history(session: Session, args: argparse.Namespace) -> int:
    name = deployment_name(args.target)
    async with session.client() as client:
        d = await client.get(DEPLOYMENTS, name, session.namespace)
        sets = {_revision(rs): rs for rs in await _owned_sets(client, d) if _revision(rs) >= 0}
    if args.revision:
        rs = sets.get(args.revision)
        if rs is None:
            return _fail(f"unable to find the specified revision {args.revision}")
        print(f"deployment.apps/{name} with revision #{args.revision}")
        print("\n".join(describe_template(rs["spec"].get("template") or {})))
        return 0
    print(f"deployment.apps/{name} ")
    rows = [("REVISION", "CHANGE-CAUSE")]
    for revision in sorted(sets):
        cause = annotations_of(sets[revision]).get(CHANGE_CAUSE)
        rows.append((str(revision), cause or "<none>"))
    width = max(len(r[0]) for r in rows) + 2
    for revision_text, cause in rows:
        print(f"{revision_text.ljust(width)}{cause}")
    print()
    return 0


def describe_template(template: Obj) -> list[str]:
    """The ``Pod Template:`` block of ``kubectl rollout history --revision``."""
    meta, spec = metadata_of(template), template.get("spec", {})

    def mapping(title: str, items: dict[str, str]) -> list[str]:
        pairs = [f"{k}={v}" for k, v in sorted(items.items())] or ["<none>"]
        return [f"  {title}:\t{pairs[0]}", *(f"\t{p}" for p in pairs[1:])]

    lines = ["Pod Template:", *mapping("Labels", meta.get("labels") or {})]
    if meta.get("annotations"):
        lines += mapping("Annotations", meta["annotations"])
    lines.append("  Containers:")
    for c in spec.get("containers") or []:
        lines.append(f"   {c.get('name')}:")
        lines.append(f"    Image:\t{c.get('image', '')}")
        ports = [f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in c.get("ports", [])]
        lines.append(f"    Port:\t{', '.join(ports) or '<none>'}")
        if c.get("command"):
            lines.append("    Command:")
            lines += [f"      {word}" for word in c["command"]]
        env = [f"      {e.get('name')}:\t{e.get('value', '')}" for e in c.get("env") or []]
        lines += ["    Environment:", *env] if env else ["    Environment:\t<none>"]
    return lines


async def run_undo(session: Session, args: argparse.Namespace) -> int:
    name = deployment_name(args.target)
    async with session.client() as client:
        d = await client.get(DEPLOYMENTS, name, session.namespace)
        if d.get("spec", {}).get("paused"):
            return _fail(
                f"you cannot rollback a paused deployment; resume it first with "
                f"'paas rollout resume deployment/{name}' and try again"
            )
        sets = [rs for rs in await _owned_sets(client, d) if _revision(rs) >= 0]
        target = choose_revision(sets, args.to_revision)
        if isinstance(target, str):
            return _fail(target.replace("{name}", name))
        template = _strip_hash(target["spec"].get("template") or {})
        if _strip_hash(d["spec"].get("template") or {}) == template:
            print(
                f"deployment.apps/{name} skipped rollback (current template already matches "
                f"revision {_revision(target)})"
            )
            return 0
        await client.patch(
            DEPLOYMENTS,
            name,
            undo_patch(d, target),
            session.namespace,
            patch_type="application/json-patch+json",
        )
    print(f"deployment.apps/{name} rolled back")
    return 0


def choose_revision(sets: list[Obj], to_revision: int) -> Obj | str:
    """The set to roll back to (the previous revision by default), or why there is none."""
    by_revision = sorted(sets, key=_revision)
    if to_revision:
        for rs in by_revision:
            if _revision(rs) == to_revision:
                return rs
        return f"unable to find specified revision {to_revision} in history"
    if len(by_revision) < 2:
        return 'no rollout history found for deployment "{name}"'
    return by_revision[-2]


def _strip_hash(template: Obj) -> Obj:
    meta = dict(metadata_of(template))
    labels = {k: v for k, v in labels_of(template).items() if k != HASH_LABEL}
    meta["labels"] = labels
    return {**template, "metadata": meta}


def undo_patch(d: Obj, rs: Obj) -> list[Obj]:
    """kubectl's JSON patch: the set's template and the annotations to keep."""
    current = annotations_of(d)
    annotations = {k: v for k, v in current.items() if k in NOT_COPIED}
    annotations.update({k: v for k, v in annotations_of(rs).items() if k not in NOT_COPIED})
    return [
        {"op": "replace", "path": "/spec/template", "value": _strip_hash(rs["spec"]["template"])},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


async def _patch_spec(session: Session, args: argparse.Namespace, verb: str) -> int:
    name = deployment_name(args.target)
    async with session.client() as client:
        d = await client.get(DEPLOYMENTS, name, session.namespace)
        paused = bool(d.get("spec", {}).get("paused"))
        patch: Obj
        if verb == "paused":
            if paused:
                return _fail(f'deployments.apps "{name}" is already paused')
            patch = {"spec": {"paused": True}}
        elif verb == "resumed":
            if not paused:
                return _fail(f'deployments.apps "{name}" is not paused')
            patch = {"spec": {"paused": None}}
        else:
            if paused:
                return _fail(
                    f'deployments.apps "{name}" can\'t restart paused deployment '
                    "(run rollout resume first)"
                )
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        await client.patch(
            DEPLOYMENTS,
            name,
            patch,
            session.namespace,
            patch_type="application/strategic-merge-patch+json",
        )
    print(f"deployment.apps/{name} {verb}")
    return 0


async def run_pause(session: Session, args: argparse.Namespace) -> int:
    return await _patch_spec(session, args, "paused")


async def run_resume(session: Session, args: argparse.Namespace) -> int:
    return await _patch_spec(session, args, "resumed")


async def run_restart(session: Session, args: argparse.Namespace) -> int:
    return await _patch_spec(session, args, "restarted")

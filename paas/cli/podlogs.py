"""``paas logs [-f] [-c CONTAINER] POD``: a container's output, as ``kubectl logs`` shows it.

The log comes from the API's ``pods/{name}/log`` subresource, which asks
the pod's node agent; each chunk is written to stdout as it arrives, so
``-f`` shows lines live until the container ends or Ctrl-C. As kubectl:

- the pod is read first; without ``-c`` a pod of several containers shows
  its ``kubectl.kubernetes.io/default-container`` or its first container,
  saying so on stderr (``Defaulted container "a" out of: a, b``);
- ``deployment/NAME`` (also ``replicaset/``, ``job/``) picks one of the
  pods its selector matches, the most alive one (ready, running, oldest),
  and says which when there are several (``Found 3 pods, using pod/...``);
- ``--since 10s|5m|1h`` becomes ``sinceSeconds``, ``--tail N`` ``tailLines``.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from orchestrator.api.conditions import condition_status
from orchestrator.api.objects import Obj, annotations_of
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.api.selectors import format_label_selector
from orchestrator.client.rest import APIClient, resource_path
from paas.cli.kinds import UsageError
from paas.cli.rollout import parse_duration
from paas.cli.session import Session, connection_flags, run_command

PODS = BUILTIN_TYPES.require("", "Pod")
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
_OWNERS: dict[str, ResourceType] = {}
for _words, _rt in (
    (("deployment", "deployments", "deploy", "deployment.apps"), ("apps", "Deployment")),
    (("replicaset", "replicasets", "rs", "replicaset.apps"), ("apps", "ReplicaSet")),
    (("job", "jobs", "job.batch"), ("batch", "Job")),
):
    for _word in _words:
        _OWNERS[_word] = BUILTIN_TYPES.require(*_rt)
_POD_WORDS = {"pod", "pods", "po"}


def add_logs_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "logs", parents=[connection_flags()], help="print the logs of a container in a pod"
    )
    p.add_argument("target", metavar="POD", help="POD, pod/NAME or deployment/NAME")
    p.add_argument("-c", "--container", default="", help="container (default: the pod's first)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-p", "--previous", action="store_true", help="the previous container's log")
    p.add_argument("--tail", type=int, default=-1, help="the last N lines (-1: all)")
    p.add_argument("--since", default="", help="only lines newer than this (10s, 5m, 1h)")
    p.add_argument("--since-time", default="", help="only lines since this RFC 3339 time")
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    p.add_argument("--limit-bytes", type=int, default=0, help="stop after this many bytes")
    p.set_defaults(func=lambda args: run_command(run_logs, args))


def log_params(args: argparse.Namespace, container: str) -> dict[str, Any]:
    """The query of the log subresource from the flags."""
    if args.since and args.since_time:
        raise UsageError("at most one of --since and --since-time may be given")
    params: dict[str, Any] = {"container": container}
    if args.follow:
        params["follow"] = "true"
    if args.previous:
        params["previous"] = "true"
    if args.timestamps:
        params["timestamps"] = "true"
    if args.tail >= 0:
        params["tailLines"] = args.tail
    if args.since:
        seconds = parse_duration(args.since)
        if seconds <= 0:
            raise UsageError(f'--since must be a positive duration, not "{args.since}"')
        params["sinceSeconds"] = max(1, math.ceil(seconds))
    if args.since_time:
        params["sinceTime"] = args.since_time
    if args.limit_bytes > 0:
        params["limitBytes"] = args.limit_bytes
    return params


def default_container(pod: Obj) -> tuple[str, str]:
    """The container to show without ``-c``, and the note to print about it ("" = none)."""
    containers = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("containers") or []]
    annotations = annotations_of(pod)
    wanted = annotations.get(DEFAULT_CONTAINER, "")
    if wanted in containers:
        return wanted, ""
    if len(containers) <= 1:
        return (containers[0] if containers else ""), ""
    return containers[0], f'Defaulted container "{containers[0]}" out of: {", ".join(containers)}'


def _liveliness(pod: Obj) -> tuple[int, int, str]:
    ready = condition_status(pod, "Ready") == "True"
    running = (pod.get("status") or {}).get("phase") == "Running"
    return (0 if ready else 1, 0 if running else 1, pod["metadata"].get("creationTimestamp", ""))


def pick_pod(pods: list[Obj]) -> Obj:
    """The most alive pod: ready before not, running before not, then the oldest."""
    return sorted(pods, key=_liveliness)[0]


async def _resolve_pod(client: APIClient, target: str, namespace: str) -> Obj:
    word, slash, name = target.partition("/")
    if not slash:
        return await client.get(PODS, target, namespace)
    word = word.lower()
    if word in _POD_WORDS:
        return await client.get(PODS, name, namespace)
    rt = _OWNERS.get(word)
    if rt is None:
        raise UsageError(f'cannot show logs of "{word}": use a pod, deployment, replicaset or job')
    owner = await client.get(rt, name, namespace)
    selector = format_label_selector((owner.get("spec") or {}).get("selector"))
    pods = (await client.list(PODS, namespace, label_selector=selector)).get("items") or []
    if not pods:
        raise UsageError(f"no pods of {word}/{name} were found (selector {selector})")
    chosen = pick_pod(pods)
    if len(pods) > 1:
        print(
            f"Found {len(pods)} pods, using pod/{chosen['metadata']['name']}",
            file=sys.stderr,
            flush=True,
        )
    return chosen


async def run_logs(session: Session, args: argparse.Namespace) -> int:
    async with session.client() as client:
        pod = await _resolve_pod(client, args.target, session.namespace)
        container = args.container
        if not container:
            container, note = default_container(pod)
            if note:
                print(note, file=sys.stderr, flush=True)
        params = log_params(args, container)
        name = pod["metadata"]["name"]
        path = resource_path(PODS, session.namespace, name, "log")
        out = sys.stdout.buffer
        async for chunk in client.stream(path, params):
            out.write(chunk)
            out.flush()
    return 0

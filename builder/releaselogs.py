"""The output of a build's release command, line by line, for the push that deploys it.

The App controller runs ``release:`` as a Job whose pod carries the label
``paas.dev/release`` and the annotation ``paas.dev/build`` (the Build it
releases). ``release_output`` finds that pod (a list, then a watch of the
labelled pods in the namespace), waits until its container has started
(the log of a container still waiting is an error, not an empty stream),
then follows its log through the API (``follow=true``) until the container
exits, so the pusher sees a migration's output as it is printed, as
Heroku shows its release phase.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from builder.kinds import BUILD_ANNOTATION, RELEASE_LABEL
from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.client.rest import APIClient, resource_path

PODS = BUILTIN_TYPES.require("", "Pod")
WATCH_SECONDS = 30  # one watch request while waiting for the pod; watched again after it


def _releases(pod: dict[str, Any], build: str) -> bool:
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(BUILD_ANNOTATION) == build


def _started(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(
        "running" in (cs.get("state") or {}) or "terminated" in (cs.get("state") or {})
        for cs in statuses
    ) or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


async def _started_pod(client: APIClient, namespace: str, build: str) -> str:
    """The name of the release pod of ``build`` once its container has started."""
    while True:
        listed = await client.list(PODS, namespace, label_selector=RELEASE_LABEL)
        for pod in listed.get("items") or []:
            if _releases(pod, build) and _started(pod):
                return str(pod["metadata"]["name"])
        events = client.watch(
            PODS,
            namespace,
            resource_version=listed["metadata"]["resourceVersion"],
            label_selector=RELEASE_LABEL,
            timeout_seconds=WATCH_SECONDS,
        )
        try:
            async for kind, pod in events:
                if kind in ("ADDED", "MODIFIED") and _releases(pod, build):
                    if _started(pod):
                        return str(pod["metadata"]["name"])
        except errors.Gone:
            continue  # compacted past our revision: list again


async def release_output(client: APIClient, namespace: str, build: str) -> AsyncIterator[str]:
    """The lines the release pod of Build ``build`` prints, as it prints them.

    Ends when the release's container exits; runs until cancelled while no
    such pod has started.
    """
    pod = await _started_pod(client, namespace, build)
    path = resource_path(PODS, namespace, pod) + "/log"
    pending = b""
    async for chunk in client.stream(path, {"follow": "true"}):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace").rstrip("\r")
    if pending:
        yield pending.decode("utf-8", "replace").rstrip("\r")

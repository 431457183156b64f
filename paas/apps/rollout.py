"""Reading a branch's Knative Service: is the new version live, failed, or on its way?

The serving controller turns the App's Knative Service into Revisions, one
per template, and reports on them in Knative's words: the Service's
``status.latestCreatedRevisionName`` is the revision of its current
template, ``latestReadyRevisionName`` the newest one that became Ready
(traffic follows it), and each Revision's ``Ready`` condition says False
with Knative's reason when its pods cannot start (``ExitCode<n>`` with
"Container failed with: ...", ``ContainerMissing``,
``ProgressDeadlineExceeded``). ``rollout_state`` turns that into the
``Deployed`` condition of the build the template runs:

- the Service has not seen its template yet, or the revision of the
  template does not carry the build: Unknown, RollingOut;
- that revision is Ready False: False, with the reason (StartFailed, or
  ProgressDeadlineExceeded) and a message that says what happened first,
  then Knative's own message;
- it is the latest ready one: True (traffic is on it);
- otherwise Unknown, RollingOut, saying whether an older version serves
  meanwhile.

``route_accepted`` reads the router's verdict on an HTTPRoute (Gateway API
``status.parents[].conditions`` Accepted), ``instances`` how many pods
serve the branch (0 for an idle preview scaled to zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.kinds import BUILD_ANNOTATION
from orchestrator.api.conditions import condition_of, find_condition
from paas.serving.kinds import GATEWAY_NAME, GATEWAY_NAMESPACE, PROGRESS_DEADLINE_ANNOTATION

Obj = dict[str, Any]


@dataclass(frozen=True)
class Rollout:
    status: str  # "True", "False" or "Unknown", as the Deployed condition says it
    reason: str
    message: str
    revision: str = ""  # the revision of the template, once it exists


def annotation(obj: Mapping[str, Any] | None, key: str) -> str:
    return str((((obj or {}).get("metadata") or {}).get("annotations") or {}).get(key) or "")


def _status(obj: Mapping[str, Any] | None) -> Obj:
    status = (obj or {}).get("status")
    return dict(status) if isinstance(status, Mapping) else {}


def observed(service: Mapping[str, Any]) -> bool:
    """The serving controller has seen the Service's current spec."""
    generation = int((service.get("metadata") or {}).get("generation") or 0)
    return int(_status(service).get("observedGeneration") or 0) >= generation


def live_revision(service: Mapping[str, Any] | None, revisions: Mapping[str, Obj]) -> Obj | None:
    """The revision traffic follows: the Service's latest ready one."""
    name = _status(service).get("latestReadyRevisionName")
    return revisions.get(str(name)) if name else None


def failure(revision: Mapping[str, Any]) -> tuple[str, str]:
    """(reason, message) of the Deployed condition for a revision that is Ready False."""
    ready = condition_of(revision, "Ready") or {}
    reason, said = str(ready.get("reason") or ""), str(ready.get("message") or "").strip()
    # Knative's "Container failed with: <the termination message>", which may be empty
    tail = "" if not said or said.endswith(":") else f": {said}"
    if reason.startswith("ExitCode"):
        code = reason.removeprefix("ExitCode")
        return "StartFailed", f"the new version keeps crashing (exit code {code}){tail}"
    if reason == "ContainerMissing":
        return "StartFailed", f"the new version cannot get its image{tail}"
    if reason == "ProgressDeadlineExceeded":
        deadline = annotation(revision, PROGRESS_DEADLINE_ANNOTATION) or "its progress deadline"
        return "ProgressDeadlineExceeded", f"the new version did not become ready within {deadline}"
    return "StartFailed", f"the new version cannot start ({reason or 'Unknown'}){tail}"


def rollout_state(
    service: Mapping[str, Any] | None, revisions: Mapping[str, Obj], build: str
) -> Rollout:
    """How far the Service's template, which runs ``build``, has come (module docstring)."""
    if service is None or not observed(service):
        return Rollout("Unknown", "RollingOut", "rolling out the new version")
    status = _status(service)
    name = str(status.get("latestCreatedRevisionName") or "")
    created = revisions.get(name) if name else None
    if created is None or annotation(created, BUILD_ANNOTATION) != build:
        return Rollout("Unknown", "RollingOut", "waiting for the new version's revision")
    ready = condition_of(created, "Ready") or {}
    if ready.get("status") == "False":
        reason, message = failure(created)
        return Rollout("False", reason, message, name)
    if status.get("latestReadyRevisionName") == name:
        return Rollout("True", "Available", f"revision {name} serves", name)
    if status.get("latestReadyRevisionName"):
        message = "starting the new version; the old one serves meanwhile"
    else:
        message = "starting the new version"
    return Rollout("Unknown", "RollingOut", message, name)


def route_accepted(route: Mapping[str, Any] | None) -> bool:
    """The router accepted ``route`` on its Gateway (``status.parents`` Accepted True)."""
    for parent in _status(route).get("parents") or []:
        if not isinstance(parent, Mapping):
            continue
        ref = parent.get("parentRef") or {}
        if ref.get("name") != GATEWAY_NAME or ref.get("namespace", GATEWAY_NAMESPACE) != (
            GATEWAY_NAMESPACE
        ):
            continue
        accepted = find_condition(parent.get("conditions"), "Accepted") or {}
        if accepted.get("status") == "True":
            return True
    return False


def instances(service: Mapping[str, Any] | None, deployments: Mapping[str, Obj]) -> int:
    """Ready pods of the revisions that have traffic (``deployments``: by revision name)."""
    serving = {
        str(t.get("revisionName") or "")
        for t in _status(service).get("traffic") or []
        if int(t.get("percent") or 0) > 0
    }
    return sum(int(_status(deployments.get(name)).get("readyReplicas") or 0) for name in serving)

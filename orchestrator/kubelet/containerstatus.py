"""A pod's status from what the runtime and the probes see: pure functions, no I/O.

The pod worker gathers an ``Observed`` (the sandbox, every container attempt
the runtime lists, why a container is not running when the runtime cannot
say, the probe results) and ``pod_status`` turns it into the ``status`` the
API shows, as the kubelet's ``generateAPIPodStatus`` does:

- per container: the newest attempt is ``state`` (running, terminated, or
  waiting with a reason), the one before it (or the newest, when it waits to
  be restarted) is ``lastState``; ``restartCount`` is the newest attempt's
  number, so a restarted node agent reports the same count;
- ``phase`` by Kubernetes' ``getPhase``: Pending while init containers or
  first starts are outstanding, Running while anything runs or will be
  restarted, Succeeded/Failed when all containers ended for good;
- conditions PodReadyToStartContainers, Initialized, Ready, ContainersReady,
  PodScheduled, each keeping its lastTransitionTime while its status holds.

Everything is derived from values that only change when something happened
(times come from the runtime, to the second), so comparing the old status
with the new one is how the worker decides whether to write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.api.conditions import (
    Condition,
    condition_status,
    conditions_of,
    updated_condition,
)
from orchestrator.api.objects import Obj
from orchestrator.api.timestamps import rfc3339
from orchestrator.kubelet.runtimes.base import ContainerState, Sandbox

TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Waiting:
    """Why a container is not running, when the runtime cannot tell (nothing started yet)."""

    reason: str
    message: str = ""


@dataclass(frozen=True)
class Observed:
    sandbox: Sandbox | None
    containers: Sequence[ContainerState]  # every attempt of every container of the pod
    host_ip: str
    waiting: Mapping[str, Waiting] = field(default_factory=dict)  # container name -> reason
    ready: Mapping[str, bool] = field(default_factory=dict)  # container id -> readiness result
    started: Mapping[str, bool] = field(default_factory=dict)  # container id -> startup passed


def attempts(containers: Sequence[ContainerState], name: str, init: bool) -> list[ContainerState]:
    """One container's attempts, newest first."""
    mine = [c for c in containers if c.name == name and c.init == init]
    return sorted(mine, key=lambda c: c.attempt, reverse=True)


def _time(when: datetime | None) -> str | None:
    return rfc3339(when) if when is not None else None


def terminated_state(c: ContainerState) -> Obj:
    unknown = c.status == "unknown"
    code = c.exit_code if c.exit_code is not None else (137 if unknown else 0)
    out: Obj = {
        "exitCode": code,
        "reason": c.reason
        or ("ContainerStatusUnknown" if unknown else "Completed" if code == 0 else "Error"),
        "startedAt": _time(c.started_at),
        "finishedAt": _time(c.finished_at or c.started_at),
        "containerID": c.id,
    }
    if c.message:
        out["message"] = c.message
    return out


def _state(c: ContainerState) -> Obj:
    if c.status == "running":
        return {"running": {"startedAt": _time(c.started_at)}}
    if c.status == "created":
        return {"waiting": {"reason": "ContainerCreating"}}
    return {"terminated": terminated_state(c)}


def _waiting(w: Waiting) -> Obj:
    return {"waiting": {"reason": w.reason, **({"message": w.message} if w.message else {})}}


def container_status(
    spec: Obj, history: list[ContainerState], observed: Observed, *, init: bool, default: str
) -> Obj:
    """One entry of containerStatuses / initContainerStatuses."""
    name = spec.get("name", "")
    current = history[0] if history else None
    previous = history[1] if len(history) > 1 else None
    wait = observed.waiting.get(name)
    entry: Obj = {"name": name, "image": spec.get("image", ""), "imageID": ""}
    last: Obj = {}
    if current is None:
        state = _waiting(wait or Waiting(default))
    elif current.status in ("exited", "unknown") and wait is not None:
        state = _waiting(wait)  # waiting to be restarted: the exit is the last state
        last = {"terminated": terminated_state(current)}
    else:
        state = _state(current)
        if previous is not None and previous.status in ("exited", "unknown"):
            last = {"terminated": terminated_state(previous)}
    running = current is not None and current.status == "running"
    if current is not None:
        entry["imageID"] = current.image_id
        entry["containerID"] = current.id
    if init:
        done = current is not None and current.status == "exited" and current.exit_code == 0
        entry["ready"] = done and wait is None
        entry["started"] = running
    else:
        cid = current.id if current is not None else ""
        started = running and observed.started.get(cid, "startupProbe" not in spec)
        ready = started and observed.ready.get(cid, "readinessProbe" not in spec)
        entry["ready"] = bool(ready)
        entry["started"] = bool(started)
    entry["restartCount"] = current.attempt if current is not None else 0
    entry["state"] = state
    entry["lastState"] = last
    return entry


def init_done(entry: Obj) -> bool:
    terminated = (entry.get("state") or {}).get("terminated") or {}
    return bool(terminated) and terminated.get("exitCode") == 0


def pod_phase(spec: Obj, inits: list[Obj], containers: list[Obj]) -> str:
    """Kubernetes' getPhase over the container statuses just computed."""
    policy = spec.get("restartPolicy", "Always")
    pending_init = False
    for entry in inits:
        if init_done(entry):
            continue
        terminated = (entry.get("state") or {}).get("terminated")
        if terminated is not None and policy == "Never":
            return "Failed"
        pending_init = True
    if pending_init:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for entry in containers:
        state = entry.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif ((entry.get("lastState") or {}).get("terminated")) is not None:
            stopped += 1  # waiting to restart after an exit
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _condition(
    previous: Mapping[str, Condition],
    type_: str,
    value: bool,
    stamp: str,
    reason: str = "",
    message: str = "",
) -> Condition:
    wanted: Condition = {
        "type": type_,
        "status": "True" if value else "False",
        "lastProbeTime": None,
        "lastTransitionTime": stamp,
    }
    if not value and reason:
        wanted["reason"] = reason
    if not value and message:
        wanted["message"] = message
    return updated_condition(previous.get(type_), wanted)


def _names(entries: list[Obj]) -> str:
    return "[" + " ".join(e["name"] for e in entries) + "]"


def pod_status(pod: Obj, observed: Observed, now: datetime) -> Obj:
    """The status to report for ``pod``; fields we do not own are kept."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    stamp = rfc3339(now)
    inits = [
        container_status(
            c,
            attempts(observed.containers, c.get("name", ""), True),
            observed,
            init=True,
            default="PodInitializing",
        )
        for c in spec.get("initContainers") or []
    ]
    initialized = all(init_done(e) for e in inits)
    containers = [
        container_status(
            c,
            attempts(observed.containers, c.get("name", ""), False),
            observed,
            init=False,
            default="ContainerCreating" if initialized else "PodInitializing",
        )
        for c in spec.get("containers") or []
    ]
    phase = old.get("phase")
    if phase not in TERMINAL:  # a pod never leaves Succeeded or Failed
        phase = pod_phase(spec, inits, containers)
    before = {c.get("type", ""): c for c in conditions_of(pod)}
    sandbox = observed.sandbox
    unready = [e for e in containers if not e["ready"]]
    gates_ok = all(
        condition_status(pod, g.get("conditionType", "")) == "True"
        for g in spec.get("readinessGates") or []
    )
    terminal = phase in TERMINAL
    containers_ready = not unready and not terminal
    ready_reason = "PodCompleted" if terminal else "ContainersNotReady"
    ready_message = "" if terminal else f"containers with unready status: {_names(unready)}"
    if containers_ready and not gates_ok:
        ready_reason, ready_message = (
            "ReadinessGatesNotReady",
            'the status of pod readiness gate is not "True"',
        )
    incomplete = [e for e in inits if not init_done(e)]
    conditions = [
        _condition(
            before,
            "PodReadyToStartContainers",
            bool(sandbox and sandbox.ready and sandbox.ip),
            stamp,
        ),
        _condition(
            before,
            "Initialized",
            initialized or (terminal and not incomplete),
            stamp,
            "ContainersNotInitialized",
            f"containers with incomplete status: {_names(incomplete)}",
        ),
        _condition(
            before, "Ready", containers_ready and gates_ok, stamp, ready_reason, ready_message
        ),
        _condition(
            before,
            "ContainersReady",
            containers_ready,
            stamp,
            "PodCompleted" if terminal else "ContainersNotReady",
            "" if terminal else f"containers with unready status: {_names(unready)}",
        ),
        before.get("PodScheduled") or _condition(before, "PodScheduled", True, stamp),
    ]
    known = {c["type"] for c in conditions}
    conditions += [c for t, c in before.items() if t not in known]  # readiness gates, others'
    status = {**old, "phase": phase, "conditions": conditions}
    status["hostIP"] = observed.host_ip
    status["hostIPs"] = [{"ip": observed.host_ip}] if observed.host_ip else []
    ip = sandbox.ip if sandbox is not None and sandbox.ip else old.get("podIP", "")
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    status["startTime"] = old.get("startTime") or stamp
    status["containerStatuses"] = containers
    if inits:
        status["initContainerStatuses"] = inits
    return status

"""Translations between the runtime contract and the Docker engine's API shapes, with no I/O.

Everything the Docker runtime needs to find its own things again lives in
container labels, so these names are part of what a restarted node agent
relies on; change them and running pods are no longer adopted:

- ``paas.dev/node``: the node that owns the container (one engine may serve
  several nodes: tests, or a one-machine cluster of several node agents);
- ``paas.dev/pod-uid``, ``paas.dev/namespace``, ``paas.dev/pod-name``;
- ``paas.dev/role``: ``sandbox`` (the pause-style container holding the
  pod's network namespace) or ``container``;
- on sandboxes: ``paas.dev/pod-ip`` (the address the node's own pod network
  gave it; the engine's networking is not used) and ``paas.dev/host-ports``
  (its hostPort mappings as JSON, which the node's rules publish);
- on containers: ``paas.dev/container-name``, ``paas.dev/attempt``,
  ``paas.dev/init`` and ``paas.dev/image`` (the image as the pod named it).

Container names mirror the kubelet's dockershim (``k8s_POD_...``) so that
``docker ps`` reads well, with the project prefix: ``paas_POD_<pod>_<ns>_<uid>``
and ``paas_<container>_<pod>_<ns>_<uid>_<attempt>``. Names are for people;
the runtime looks things up by label.

State mapping (``state_from_inspect``): ``created`` stays created; running,
paused and restarting count as running; exited and dead as exited, with the
reason ``OOMKilled`` when the engine saw the memory cgroup's OOM killer,
``ContainerCannotRun`` when the engine could not start the process (its
error is the message), ``Completed`` for exit code 0 and ``Error``
otherwise, as the kubelet reports them.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from orchestrator.api.objects import Obj
from orchestrator.kubelet.logformat import parse_stamp
from orchestrator.kubelet.runtimes.base import (
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    PortMapping,
    Sandbox,
    SandboxSpec,
)

PREFIX = "paas"
ID_SCHEME = "docker://"
LABEL_NODE = "paas.dev/node"
LABEL_POD_UID = "paas.dev/pod-uid"
LABEL_NAMESPACE = "paas.dev/namespace"
LABEL_POD_NAME = "paas.dev/pod-name"
LABEL_ROLE = "paas.dev/role"
LABEL_CONTAINER_NAME = "paas.dev/container-name"
LABEL_ATTEMPT = "paas.dev/attempt"
LABEL_INIT = "paas.dev/init"
LABEL_IMAGE = "paas.dev/image"
LABEL_POD_IP = "paas.dev/pod-ip"
LABEL_HOST_PORTS = "paas.dev/host-ports"
ROLE_SANDBOX = "sandbox"
ROLE_CONTAINER = "container"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SANDBOX_COMMAND = ("sleep", "infinity")  # the pause-style process: holds the namespaces, no more
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")
_ZERO_TIME = "0001-01-01T00:00:00Z"
_RUNNING = {"running", "paused", "restarting"}
_EXITED = {"exited", "dead"}


def _safe(part: str) -> str:
    return _UNSAFE.sub("-", part) or "x"


def legacy_network_name(node_name: str) -> str:
    """The Docker network, ``paas-<node>``, that earlier versions put pods on (removed at start)."""
    return f"{PREFIX}-{_safe(node_name.lower())}"


def sandbox_name(spec: SandboxSpec) -> str:
    return "_".join([PREFIX, "POD", _safe(spec.name), _safe(spec.namespace), _safe(spec.pod_uid)])


def container_name(spec: ContainerSpec) -> str:
    parts = [spec.name, spec.pod_name, spec.namespace, spec.pod_uid]
    return "_".join([PREFIX, *(_safe(p) for p in parts), str(spec.attempt)])


def node_filter(node_name: str, role: str, pod_uid: str | None = None) -> dict[str, list[str]]:
    """The engine's list filter for this node's sandboxes or containers (of one pod)."""
    labels = [f"{LABEL_NODE}={node_name}", f"{LABEL_ROLE}={role}"]
    if pod_uid is not None:
        labels.append(f"{LABEL_POD_UID}={pod_uid}")
    return {"label": labels}


def sandbox_labels(node_name: str, spec: SandboxSpec, ip: str) -> dict[str, str]:
    return {
        LABEL_NODE: node_name,
        LABEL_POD_UID: spec.pod_uid,
        LABEL_NAMESPACE: spec.namespace,
        LABEL_POD_NAME: spec.name,
        LABEL_ROLE: ROLE_SANDBOX,
        LABEL_POD_IP: ip,
        LABEL_HOST_PORTS: json.dumps([dataclasses.asdict(m) for m in spec.port_mappings]),
    }


def host_ports(info: Obj) -> list[PortMapping]:
    """A sandbox's hostPort mappings, from its label."""
    labels: Mapping[str, str] = (info.get("Config") or {}).get("Labels") or {}
    try:
        return [PortMapping(**m) for m in json.loads(labels.get(LABEL_HOST_PORTS) or "[]")]
    except (TypeError, ValueError):
        return []


def container_labels(node_name: str, spec: ContainerSpec) -> dict[str, str]:
    return {
        LABEL_NODE: node_name,
        LABEL_POD_UID: spec.pod_uid,
        LABEL_NAMESPACE: spec.namespace,
        LABEL_POD_NAME: spec.pod_name,
        LABEL_ROLE: ROLE_CONTAINER,
        LABEL_CONTAINER_NAME: spec.name,
        LABEL_ATTEMPT: str(spec.attempt),
        LABEL_INIT: "true" if spec.init else "false",
        LABEL_IMAGE: spec.image,
    }


def entrypoint_and_cmd(spec: ContainerSpec) -> tuple[list[str] | None, list[str] | None]:
    """Kubernetes' rule for the engine: ``command`` replaces the entrypoint, ``args`` the cmd.

    With a command and no args, the image's cmd is dropped too: the engine
    does that itself whenever an entrypoint is given, as Kubernetes wants.
    """
    entrypoint = list(spec.command) if spec.command else None
    cmd = list(spec.args) if spec.args else None
    return entrypoint, cmd


def environment(spec: ContainerSpec) -> list[str]:
    """``K=V`` entries; a later entry of the same name wins, as in Kubernetes."""
    merged: dict[str, str] = {}
    for key, value in spec.env:
        merged.pop(key, None)
        merged[key] = value
    return [f"{key}={value}" for key, value in merged.items()]


def executable_candidates(program: str, path: str, working_dir: str) -> list[str]:
    """Where the engine would look for ``program``: itself when it has a slash (relative to the
    working dir), else each directory of ``PATH``."""
    if "/" in program:
        return [posixpath.normpath(posixpath.join(working_dir or "/", program))]
    dirs = [d for d in (path or DEFAULT_PATH).split(":") if d]
    return [posixpath.join(d, program) for d in dirs]


def docker_time(value: str | None) -> datetime | None:
    """The engine's RFC 3339 time (nanoseconds, ``Z``); None for its zero time."""
    if not value or value.startswith(_ZERO_TIME[:4]):
        return None
    try:
        return parse_stamp(value.replace("+00:00", "Z"))
    except ValueError:
        return None


def strip_scheme(container_id: str) -> str:
    return container_id.removeprefix(ID_SCHEME)


def state_from_inspect(info: Obj) -> ContainerState:
    """A container's inspect document as the runtime contract reports it."""
    labels: Mapping[str, str] = info.get("Config", {}).get("Labels") or {}
    state: Obj = info.get("State") or {}
    engine_status = str(state.get("Status", ""))
    status: ContainerStatus = "unknown"
    if engine_status == "created":
        status = "created"
    elif engine_status in _RUNNING:
        status = "running"
    elif engine_status in _EXITED:
        status = "exited"
    exit_code: int | None = None
    reason = message = ""
    if status == "exited":
        exit_code = int(state.get("ExitCode", 0))
        error = str(state.get("Error") or "")
        if state.get("OOMKilled"):
            reason = "OOMKilled"
        elif error:
            reason, message = "ContainerCannotRun", error
        elif exit_code == 0:
            reason = "Completed"
        else:
            reason = "Error"
    started_at = docker_time(state.get("StartedAt"))
    finished_at = docker_time(state.get("FinishedAt")) if status == "exited" else None
    if started_at and finished_at and finished_at < started_at:
        # The engine stamps StartedAt once the start returns, which a container that exits at
        # once can outlast (moby issue 45445): it did not finish before it started.
        finished_at = started_at
    try:
        attempt = int(labels.get(LABEL_ATTEMPT, "0"))
    except ValueError:
        attempt = 0
    return ContainerState(
        id=ID_SCHEME + str(info.get("Id", "")),
        pod_uid=labels.get(LABEL_POD_UID, ""),
        name=labels.get(LABEL_CONTAINER_NAME, ""),
        attempt=attempt,
        status=status,
        image=labels.get(LABEL_IMAGE) or info.get("Config", {}).get("Image", ""),
        image_id=str(info.get("Image", "")),
        started_at=started_at,
        finished_at=finished_at,
        exit_code=exit_code,
        reason=reason,
        message=message,
        init=labels.get(LABEL_INIT) == "true",
    )


def sandbox_from_inspect(info: Obj, host_ip: str) -> Sandbox:
    """A sandbox container's inspect document; its IP is its ``paas.dev/pod-ip`` label.

    Ready means running with an address; the runtime also asks its network.
    """
    labels: Mapping[str, str] = info.get("Config", {}).get("Labels") or {}
    host_network = is_host_network(info)
    ip = host_ip if host_network else labels.get(LABEL_POD_IP, "")
    running = (info.get("State") or {}).get("Status") == "running"
    return Sandbox(
        id=ID_SCHEME + str(info.get("Id", "")),
        pod_uid=labels.get(LABEL_POD_UID, ""),
        namespace=labels.get(LABEL_NAMESPACE, ""),
        name=labels.get(LABEL_POD_NAME, ""),
        ip=ip or "",
        ready=running and bool(ip),
    )


def is_host_network(info: Obj) -> bool:
    return (info.get("HostConfig") or {}).get("NetworkMode") == "host"


def fixed_stamp(stamp: bytes) -> bytes:
    """The engine's RFC 3339 time (trailing zeros trimmed) with nine fraction digits, as kubectl
    shows it (``2026-11-22T07:00:00.120000000Z``)."""
    main, _, frac = stamp.rstrip(b"Z").partition(b".")
    return main + b"." + (frac + b"000000000")[:9] + b"Z"


def split_stamp(frame: bytes) -> tuple[bytes, bytes]:
    """(time, text) of a log frame the engine sent with ``timestamps=1``."""
    stamp, _, text = frame.partition(b" ")
    return stamp, text


def utc_timestamp(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()

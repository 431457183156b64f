"""Which container's log a ``/containerLogs`` request means, decided without I/O.

The node agent's HTTPS server (``orchestrator.kubelet.server``) answers
``GET /containerLogs/{namespace}/{pod}/{container}`` with the query the
real kubelet takes (``follow``, ``previous``, ``timestamps``, ``tailLines``,
``sinceSeconds``, ``sinceTime``, ``limitBytes``). The API server, which
has read the pod, adds two hints of ours: ``podUID`` (so that a pod deleted
and created again under the same name is not confused with its
predecessor) and ``containerID`` (the container its status names, so that
``previous`` means the pod's ``lastState`` exactly as in Kubernetes).

Without hints the runtime's own view decides: the current container is
the highest attempt of that name, the previous one the attempt before it.
Errors carry the HTTP status and Kubernetes' words; the API server passes
them on as the ``Status`` a user sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.api.timestamps import parse_time
from orchestrator.kubelet.runtimes.base import ContainerState, LogOptions, Sandbox

_TRUE = {"1", "t", "T", "TRUE", "true", "True", ""}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class LogRequestError(Exception):
    """A request that cannot be answered; ``status`` is the HTTP code to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LogRequest:
    namespace: str
    pod: str
    container: str
    previous: bool
    options: LogOptions
    pod_uid: str = ""  # hint: the pod's uid as the API server knows it
    container_id: str = ""  # hint: the container the pod's status names


def _bool(query: Mapping[str, str], name: str) -> bool:
    if name not in query:
        return False
    value = query[name]
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise LogRequestError(400, f'invalid boolean for query parameter "{name}": {value!r}')


def _count(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise LogRequestError(
            400, f'invalid integer for query parameter "{name}": {value!r}'
        ) from None
    if number < minimum:
        raise LogRequestError(400, f"{name} must be at least {minimum}, not {number}")
    return number


def parse_log_request(
    namespace: str, pod: str, container: str, query: Mapping[str, str], now: datetime
) -> LogRequest:
    """The request from the path's names and the query; ``now`` anchors ``sinceSeconds``."""
    since_seconds = _count(query, "sinceSeconds", 1)
    since_time_text = query.get("sinceTime", "")
    if since_seconds is not None and since_time_text:
        raise LogRequestError(400, "at most one of `sinceTime` or `sinceSeconds` may be specified")
    since: datetime | None = None
    if since_seconds is not None:
        since = now - timedelta(seconds=since_seconds)
    elif since_time_text:
        since = parse_time(since_time_text)
        if since is None:
            raise LogRequestError(
                400, f"sinceTime must be an RFC 3339 time, not {since_time_text!r}"
            )
    options = LogOptions(
        follow=_bool(query, "follow"),
        tail_lines=_count(query, "tailLines", 0),
        since=since,
        timestamps=_bool(query, "timestamps"),
        limit_bytes=_count(query, "limitBytes", 1),
    )
    return LogRequest(
        namespace=namespace,
        pod=pod,
        container=container,
        previous=_bool(query, "previous"),
        options=options,
        pod_uid=query.get("podUID", ""),
        container_id=query.get("containerID", ""),
    )


def find_pod_uid(sandboxes: Iterable[Sandbox], namespace: str, name: str) -> str | None:
    """The uid of the pod ``namespace/name`` here; a ready sandbox wins over a broken one."""
    found = [s for s in sandboxes if s.namespace == namespace and s.name == name]
    found.sort(key=lambda s: s.ready)
    return found[-1].pod_uid if found else None


def pick_container(request: LogRequest, containers: Iterable[ContainerState]) -> ContainerState:
    """The container attempt whose log the request means; raises LogRequestError."""
    attempts = sorted(
        (c for c in containers if c.name == request.container), key=lambda c: c.attempt
    )
    if request.container_id:
        for state in attempts:
            if state.id == request.container_id:
                return state
    where = f'container "{request.container}" in pod "{request.pod}"'
    if request.previous:
        if len(attempts) < 2:
            raise LogRequestError(
                400,
                f'previous terminated container "{request.container}" in pod "{request.pod}" '
                "not found",
            )
        return attempts[-2]
    if not attempts:
        raise LogRequestError(400, f"{where} is waiting to start: ContainerCreating")
    return attempts[-1]

"""The ``log`` subresource of pods: checked here, served by the pod's node agent.

``GET /api/v1/namespaces/{ns}/pods/{name}/log`` takes Kubernetes'
``PodLogOptions`` as query parameters (``container``, ``follow``,
``previous``, ``timestamps``, ``tailLines``, ``sinceSeconds``,
``sinceTime``, ``limitBytes``, ``insecureSkipTLSVerifyBackend``, accepted
but never honoured: the node's certificate is always checked). What the
API server can decide from the store it decides first, in Kubernetes'
words, so that the common mistakes never reach a node:

- the pod must exist (404), the numbers must be numbers (400) in range
  (422 ``PodLogOptions "web" is invalid: tailLines: ...``);
- the container (``podcontainers``: named, the default-container
  annotation, or the only one; else 400 in Kubernetes' words);
- its state, read from the pod's status as the kubelet reads its own
  (``container "x" in pod "web" is waiting to start: ContainerCreating``,
  ``previous terminated container "x" in pod "web" not found``). A pod not
  yet on a node is waiting to start too (Kubernetes answers an empty body,
  which tells a user nothing).

The container ID the status names is passed on as a hint, so ``previous``
means ``lastState`` exactly; then the node agent streams the log
(``orchestrator.apiserver.nodeproxy``), and the body goes back as
``text/plain`` chunk by chunk, so ``follow`` shows each line as it comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.api.timestamps import parse_time, rfc3339
from orchestrator.api.validation import format_invalid_message
from orchestrator.api.validation_causes import Cause, forbidden, invalid
from orchestrator.apiserver.nodeproxy import NodeProxy, node_endpoint
from orchestrator.apiserver.podcontainers import choose_container
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.wire import parse_int64

NODES = BUILTIN_TYPES.require("", "Node")
_TRUE = {"1", "t", "T", "TRUE", "true", "True", ""}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True)
class PodLogOptions:
    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: str = ""  # RFC 3339, as given
    limit_bytes: int | None = None
    insecure_skip_tls_verify_backend: bool = False


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.BadRequest(f'invalid boolean for query parameter "{name}": {value!r}')


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    return parse_int64(name, value)


def parse_log_options(name: str, query: Mapping[str, str]) -> PodLogOptions:
    """The options from the query; 400 for what is not a value, 422 for values out of range."""
    opts = PodLogOptions(
        container=query.get("container", ""),
        follow=_bool(query, "follow"),
        previous=_bool(query, "previous"),
        timestamps=_bool(query, "timestamps"),
        tail_lines=_int(query, "tailLines"),
        since_seconds=_int(query, "sinceSeconds"),
        since_time=query.get("sinceTime", ""),
        limit_bytes=_int(query, "limitBytes"),
        insecure_skip_tls_verify_backend=_bool(query, "insecureSkipTLSVerifyBackend"),
    )
    if opts.since_time and parse_time(opts.since_time) is None:
        raise errors.BadRequest(
            f'invalid value for query parameter "sinceTime": {opts.since_time!r} '
            "is not an RFC 3339 time"
        )
    causes: list[Cause] = []
    if opts.tail_lines is not None and opts.tail_lines < 0:
        causes.append(invalid("tailLines", opts.tail_lines, "must be greater than or equal to 0"))
    if opts.limit_bytes is not None and opts.limit_bytes < 1:
        causes.append(invalid("limitBytes", opts.limit_bytes, "must be greater than 0"))
    if opts.since_seconds is not None and opts.since_time:
        causes.append(
            forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified")
        )
    elif opts.since_seconds is not None and opts.since_seconds < 1:
        causes.append(invalid("sinceSeconds", opts.since_seconds, "must be greater than 0"))
    if causes:
        raise errors.Invalid(
            format_invalid_message("PodLogOptions", name, causes),
            details={
                "name": name,
                "kind": "PodLogOptions",
                "causes": [c.to_dict() for c in causes],
            },
        )
    return opts


def _container_status(pod: Obj, container: str) -> Obj | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(key) or []:
            if entry.get("name") == container:
                return dict(entry)
    return None


def status_container_id(pod: Obj, container: str, previous: bool) -> str:
    """The container ID whose log the pod's status points at ("" = let the node decide).

    Raises BadRequest, in the kubelet's words, when the status shows that
    there is no such log: the container has not started, or there is no
    previous one. Where the status names a container but not its ID, the
    node decides from what its runtime holds rather than refusing.
    """
    pod_name = pod["metadata"]["name"]
    where = f'container "{container}" in pod "{pod_name}"'
    if not (pod.get("spec") or {}).get("nodeName"):
        raise errors.BadRequest(f"{where} is waiting to start: ContainerCreating")
    cs = _container_status(pod, container)
    if cs is None:
        return ""  # the node has not reported it yet: the node agent knows better
    state = cs.get("state") or {}
    last = (cs.get("lastState") or {}).get("terminated")
    if previous:
        if not last:
            raise errors.BadRequest(
                f'previous terminated container "{container}" in pod "{pod_name}" not found'
            )
        return str(last.get("containerID") or "")
    if state.get("running") is not None:
        return str(cs.get("containerID") or "")
    terminated = state.get("terminated")
    if terminated is not None:
        return str(terminated.get("containerID") or cs.get("containerID") or "")
    if last:
        return str(last.get("containerID") or "")
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason") or "ContainerCreating"
        if reason == "ErrImagePull":
            raise errors.BadRequest(f"{where} is waiting to start: image can't be pulled")
        if reason == "ImagePullBackOff":
            raise errors.BadRequest(
                f"{where} is waiting to start: trying and failing to pull image"
            )
        raise errors.BadRequest(f"{where} is waiting to start: {reason}")
    raise errors.BadRequest(f"{where} is waiting to start - no logs yet")


def node_params(pod: Obj, opts: PodLogOptions, container_id: str) -> dict[str, str]:
    """The node agent's query: kubelet's parameters plus our pod and container hints."""
    params: dict[str, str] = {"podUID": str(pod["metadata"].get("uid", ""))}
    if container_id:
        params["containerID"] = container_id
    if opts.follow:
        params["follow"] = "true"
    if opts.previous:
        params["previous"] = "true"
    if opts.timestamps:
        params["timestamps"] = "true"
    if opts.since_seconds is not None:
        params["sinceSeconds"] = str(opts.since_seconds)
    if opts.since_time:
        since = parse_time(opts.since_time)
        assert since is not None  # checked in parse_log_options
        params["sinceTime"] = rfc3339(since)
    if opts.tail_lines is not None:
        params["tailLines"] = str(opts.tail_lines)
    if opts.limit_bytes is not None:
        params["limitBytes"] = str(opts.limit_bytes)
    return params


async def serve_pod_log(
    registry: Registry,
    proxy: NodeProxy,
    pods: ResourceType,
    namespace: str,
    name: str,
    query: Mapping[str, str],
) -> StreamingResponse:
    """Check the request against the pod and its node, then stream the node's answer."""
    opts = parse_log_options(name, query)
    pod = await registry.get(pods, namespace, name)
    container = choose_container(pod, opts.container)
    container_id = status_container_id(pod, container, opts.previous)
    node_name = pod["spec"]["nodeName"]
    try:
        node = await registry.get(NODES, "", node_name)
    except errors.NotFound:
        raise errors.ServiceUnavailable(
            f'pod "{name}" is bound to node "{node_name}", which is not registered'
        ) from None
    endpoint = node_endpoint(node)
    path = f"/containerLogs/{quote(namespace)}/{quote(name)}/{quote(container)}"
    # insecureSkipTLSVerifyBackend is parsed but never honoured: see nodeproxy's docstring.
    body = await proxy.stream(endpoint, path, node_params(pod, opts, container_id))
    return StreamingResponse(
        body,
        media_type="text/plain",
        headers={"Cache-Control": "no-cache"},
        background=BackgroundTask(body.aclose),
    )

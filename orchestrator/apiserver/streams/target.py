"""What an exec, attach or port-forward request addresses, checked before any upgrade.

The query carries Kubernetes' ``PodExecOptions`` / ``PodAttachOptions``
(``command`` repeated, ``container``, ``stdin``, ``stdout``, ``stderr``,
``tty``); port-forward takes none that kubectl sends. Checks, in the API
server's words (kubernetes ``pkg/registry/core/pod/strategy.go``):

- the pod exists (404), is bound to a node (400 ``pod web does not have a
  host assigned``) and has not completed (400 ``cannot exec into a
  container in a completed pod; current phase is Succeeded``);
- the container: the one named (400 ``container x is not valid for pod
  web``), else the pod's ``kubectl.kubernetes.io/default-container``
  annotation, else its only container (400 ``a container name must be
  specified for pod web, choose one of: [a b]``);
- at least one of stdin, stdout, stderr; exec needs a command.

Where to reach the pod's node comes from its Node (``nodeproxy``); the
node's query uses the kubelet's names (``input``, ``output``, ``error``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.apiserver.nodeproxy import NodeEndpoint, node_endpoint
from orchestrator.apiserver.podcontainers import choose_container
from orchestrator.apiserver.registry import Registry

NODES = BUILTIN_TYPES.require("", "Node")
SUBRESOURCES = ("exec", "attach", "portforward")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False", ""}
_VERBS = {"exec": "exec into", "attach": "attach to", "portforward": "port-forward to"}


@dataclass(frozen=True)
class StreamOptions:
    """PodExecOptions / PodAttachOptions as the query gave them."""

    command: tuple[str, ...] = ()
    container: str = ""
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False


@dataclass(frozen=True)
class PodStream:
    """A checked request: which pod, container and node, with what options."""

    subresource: str  # exec | attach | portforward
    namespace: str
    pod: str
    uid: str
    container: str  # "" for port-forward
    options: StreamOptions
    endpoint: NodeEndpoint

    def node_path(self) -> str:
        ns, pod = quote(self.namespace, safe=""), quote(self.pod, safe="")
        if self.subresource == "portforward":
            return f"/portForward/{ns}/{pod}"
        return f"/{self.subresource}/{ns}/{pod}/{quote(self.container, safe='')}"

    def node_params(self) -> list[tuple[str, str]]:
        """The kubelet's query for exec and attach."""
        o = self.options
        params = [("command", c) for c in o.command]
        for name, on in (("input", o.stdin), ("output", o.stdout), ("error", o.stderr)):
            if on:
                params.append((name, "1"))
        if o.tty:
            params.append(("tty", "1"))
        params.append(("podUID", self.uid))
        return params


def _bool(name: str, values: list[str]) -> bool:
    value = values[-1] if values else ""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.BadRequest(f'invalid boolean for query parameter "{name}": {value!r}')


def parse_options(subresource: str, query: Sequence[tuple[str, str]]) -> StreamOptions:
    """The options of an exec or attach query (repeated ``command`` kept in order)."""
    values: dict[str, list[str]] = {}
    for name, value in query:
        values.setdefault(name, []).append(value)
    if subresource == "portforward":
        return StreamOptions()
    opts = StreamOptions(
        command=tuple(values.get("command", [])) if subresource == "exec" else (),
        container=(values.get("container") or [""])[-1],
        stdin=_bool("stdin", values.get("stdin", [])),
        stdout=_bool("stdout", values.get("stdout", [])),
        stderr=_bool("stderr", values.get("stderr", [])),
        tty=_bool("tty", values.get("tty", [])),
    )
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise errors.BadRequest("you must specify at least 1 of stdin, stdout, stderr")
    if subresource == "exec" and not opts.command:
        raise errors.BadRequest("you must specify at least one command for the container")
    return opts


async def resolve(
    registry: Registry,
    pods: ResourceType,
    namespace: str,
    name: str,
    subresource: str,
    query: Sequence[tuple[str, str]],
) -> PodStream:
    """Check the request against the store; the node endpoint to relay to."""
    options = parse_options(subresource, query)
    pod = await registry.get(pods, namespace, name)
    container = "" if subresource == "portforward" else choose_container(pod, options.container)
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        raise errors.BadRequest(f"pod {name} does not have a host assigned")
    phase = (pod.get("status") or {}).get("phase", "")
    if phase in ("Succeeded", "Failed"):
        what = "pod" if subresource == "portforward" else "container in a completed pod"
        raise errors.BadRequest(f"cannot {_VERBS[subresource]} a {what}; current phase is {phase}")
    try:
        node = await registry.get(NODES, "", node_name)
    except errors.NotFound:
        raise errors.ServiceUnavailable(
            f'pod "{name}" is bound to node "{node_name}", which is not registered'
        ) from None
    return PodStream(
        subresource=subresource,
        namespace=namespace,
        pod=name,
        uid=str(pod["metadata"].get("uid", "")),
        container=container,
        options=options,
        endpoint=node_endpoint(node),
    )

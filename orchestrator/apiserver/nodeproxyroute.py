"""The ``proxy`` subresource of nodes: a request passed on to the node's agent.

``/api/v1/nodes/{name}/proxy/{path}`` reaches ``https://<node>/{path}`` as
Kubernetes' API server reaches the kubelet: ``kubectl get --raw
/api/v1/nodes/vm/proxy/stats/summary``, Prometheus' node role through the
API server, or ``/healthz`` of one node. Who may is ordinary RBAC on
``nodes/proxy`` (verb from the method, as for any subresource); the default
``admin``, ``edit`` and ``view`` roles do not grant it, as in Kubernetes,
since the node agent trusts the API server with every pod on the node.

What passes and what does not:

- the method, the path (as sent, still percent-encoded), the query and the
  body; of the headers only ``Accept``, ``Accept-Encoding`` and
  ``Content-Type``: never the caller's credentials or impersonation
  headers. The API server calls with its own client certificate, at the
  address and with the pinned certificate the node registered
  (``nodeproxy``), so a caller cannot choose where it calls: a port or
  scheme in the name (``nodes/https:vm:10250/proxy``, which Kubernetes
  accepts) is refused.
- the node's answer comes back as the node gave it (status, headers other
  than hop-by-hop ones, body streamed), as Kubernetes passes the kubelet's
  answer on; a node that cannot be reached is a 503 ``Status`` naming it.
- upgraded connections are not relayed: exec, attach and port-forward have
  their own subresources of pods.
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse

from orchestrator.api import errors
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.nodeproxy import NodeProxy, node_endpoint
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.routes import Target
from orchestrator.apiserver.wire import read_body

NODES = BUILTIN_TYPES.require("", "Node")
_PASSED_HEADERS = ("accept", "accept-encoding", "content-type")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


async def serve_node_proxy(
    registry: Registry, proxy: NodeProxy, target: Target, request: Request
) -> StreamingResponse:
    """Pass ``request`` on to the agent of node ``target.name``; its answer as it came."""
    name = target.name
    if ":" in name:
        raise errors.BadRequest(
            f'nodes "{name}": a scheme or port in the node name is not accepted; '
            "the API server proxies only to the node agent's own port"
        )
    if request.method not in _METHODS:
        raise errors.MethodNotAllowed(f"{request.method} is not proxied to nodes")
    if "upgrade" in request.headers.get("connection", "").lower():
        raise errors.BadRequest(
            "the node proxy does not relay upgraded connections; "
            "use the exec, attach or portforward subresources of pods"
        )
    node = await registry.get(NODES, "", name)
    endpoint = node_endpoint(node)
    data = await read_body(request)
    headers = {k: v for k in _PASSED_HEADERS if (v := request.headers.get(k)) is not None}
    answer = await proxy.forward(
        endpoint,
        request.method,
        "/" + _node_path(target, request),
        request.scope.get("query_string", b"").decode("latin-1"),
        headers,
        data,
    )
    response = StreamingResponse(
        answer.body, status_code=answer.status, background=BackgroundTask(answer.body.aclose)
    )
    response.raw_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers
    ]
    return response


def _node_path(target: Target, request: Request) -> str:
    """The path after ``/proxy/`` as the client sent it (percent-encoding kept)."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    marker = f"/{target.rt.plural}/"
    start = path.find(marker)
    if start < 0:
        return target.proxy_path
    after = path[start + len(marker) :].split("/", 2)  # name, "proxy", the rest
    return after[2] if len(after) == 3 else ""

"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, served by the API server itself.

On Kubernetes these come from metrics-server behind the aggregation layer;
here the API server answers them directly (one process fewer, the same
paths, shapes and rights):

    GET /apis/metrics.k8s.io/v1beta1/nodes[/{name}]
    GET /apis/metrics.k8s.io/v1beta1/pods                        (all namespaces)
    GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods[/{name}]

Lists take ``labelSelector`` (the Nodes' and Pods' own labels, which the
metrics objects carry) and ``fieldSelector`` on ``metadata.name`` and
``metadata.namespace``. The objects come from the store first (which Nodes,
which Pods, their labels), then from the Summaries of the nodes concerned
(``resourcemetricsscrape``), then are shaped (``resourcemetricsshapes``).
Something without a reading yet is left out of a list and is 404 on get,
in metrics-server's words (``podmetrics.metrics.k8s.io "web" not found``).
Rights are RBAC's like any resource (group ``metrics.k8s.io``, resources
``nodes`` and ``pods``, verbs get and list), checked before this is called.
Always JSON: Kubernetes serves these kinds only as JSON, and kubectl's
metrics client asks for JSON; ``kubectl get podmetrics`` asks for a Table,
which has metrics-server's columns (Name, CPU, Memory, Window).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from orchestrator.api import errors
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.quantity import parse_quantity
from orchestrator.api.resources import BUILTIN_TYPES, ResourceType
from orchestrator.api.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from orchestrator.api.tables import Column, ColumnSet, build_table
from orchestrator.apiserver.nodeproxy import NodeProxy
from orchestrator.apiserver.registry import Registry
from orchestrator.apiserver.resourcemetricsscrape import SummaryScraper
from orchestrator.apiserver.resourcemetricsshapes import (
    API_VERSION,
    cpu_quantity,
    memory_quantity,
    node_metrics,
    pod_metrics,
    pod_stats,
)
from orchestrator.apiserver.routes import Target
from orchestrator.apiserver.wire import json_response

GROUP = "metrics.k8s.io"
NODES = BUILTIN_TYPES.require("", "Node")
PODS = BUILTIN_TYPES.require("", "Pod")
_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
NANO = 1_000_000_000


def _cells(obj: Mapping[str, Any], _now: datetime) -> list[Any]:
    containers = obj.get("containers")
    usage = obj.get("usage") or {}
    if containers is not None:  # a pod: the sum of its containers, as metrics-server's table
        cpu = cpu_quantity(sum(int(parse_quantity(c["usage"]["cpu"]) * NANO) for c in containers))
        memory = memory_quantity(sum(int(parse_quantity(c["usage"]["memory"])) for c in containers))
    else:
        cpu, memory = usage.get("cpu", ""), usage.get("memory", "")
    return [obj["metadata"]["name"], cpu, memory, obj.get("window", "")]


_COLUMNS = ColumnSet(
    (
        Column("Name", format="name", description="Name of the resource"),
        Column("CPU", description="CPU usage"),
        Column("Memory", description="Memory usage"),
        Column("Window", description="Interval the usage was measured over"),
    ),
    _cells,
)
TABLE_COLUMNS = {"NodeMetrics": _COLUMNS, "PodMetrics": _COLUMNS}


def _not_found(rt: ResourceType, name: str) -> errors.NotFound:
    resource = rt.kind.lower()  # metrics-server's words: podmetrics, nodemetrics
    return errors.NotFound(
        f'{resource}.{GROUP} "{name}" not found',
        details={"name": name, "group": GROUP, "kind": resource},
    )


def _selectors(query: Mapping[str, str]) -> tuple[LabelSelector | None, FieldSelector | None]:
    try:
        labels = (
            parse_label_selector(query["labelSelector"]) if query.get("labelSelector") else None
        )
        fields = (
            parse_field_selector(query["fieldSelector"]) if query.get("fieldSelector") else None
        )
    except SelectorError as exc:
        raise errors.BadRequest(f"unable to parse requirement: {exc}") from exc
    for name, _op, _value in fields.requirements if fields is not None else ():
        if name not in _FIELDS:
            raise errors.BadRequest(
                f'"{name}" is not a known field selector: '
                'only "metadata.name", "metadata.namespace"'
            )
    return labels, fields


def _node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


async def serve(
    registry: Registry,
    proxy: NodeProxy,
    scraper: SummaryScraper,
    target: Target,
    method: str,
    query: Mapping[str, str],
    table: bool = False,
) -> Response:
    """Answer one request for NodeMetrics or PodMetrics."""
    if method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowed(f"{method} is not allowed on {target.rt.group_resource}")
    if query.get("watch") in ("1", "true", "True"):
        raise errors.MethodNotAllowed(f"watch is not supported on {target.rt.group_resource}")
    labels, fields = (None, None) if target.name else _selectors(query)
    if target.rt.kind == "NodeMetrics":
        items = await _nodes(registry, proxy, scraper, target.name, labels, fields)
    else:
        items = await _pods(registry, proxy, scraper, target, labels, fields)
    if target.name and not items:
        raise _not_found(target.rt, target.name)
    if table:
        try:
            rendered = build_table(
                target.rt.kind,
                items,
                now=datetime.now(UTC),
                include_object=query.get("includeObject", "Metadata"),
                column_sets=TABLE_COLUMNS,
            )
        except ValueError as exc:
            raise errors.BadRequest(str(exc)) from exc
        return json_response(rendered)
    if target.name:
        return json_response(items[0])
    body: dict[str, Any] = {
        "kind": target.rt.list_kind,
        "apiVersion": API_VERSION,
        "metadata": {},
        "items": items,
    }
    return json_response(body)


async def _all_nodes(registry: Registry) -> dict[str, Obj]:
    nodes, _, _ = await registry.list(NODES, "")
    return {metadata_of(n).get("name", ""): n for n in nodes}


async def _nodes(
    registry: Registry,
    proxy: NodeProxy,
    scraper: SummaryScraper,
    name: str,
    labels: LabelSelector | None,
    fields: FieldSelector | None,
) -> list[Obj]:
    if name:
        try:
            nodes = [await registry.get(NODES, "", name)]
        except errors.NotFound:
            return []
    else:
        nodes, _, _ = await registry.list(NODES, "", labels=labels, fields=fields)
    summaries = await scraper.summaries(proxy, nodes)
    out = []
    for node in sorted(nodes, key=lambda n: metadata_of(n).get("name", "")):
        summary = summaries.get(metadata_of(node).get("name", ""))
        metrics = node_metrics(node, summary) if summary is not None else None
        if metrics is not None:
            out.append(metrics)
    return out


async def _pods(
    registry: Registry,
    proxy: NodeProxy,
    scraper: SummaryScraper,
    target: Target,
    labels: LabelSelector | None,
    fields: FieldSelector | None,
) -> list[Obj]:
    if target.name:
        try:
            pods = [await registry.get(PODS, target.namespace, target.name)]
        except errors.NotFound:
            return []
    else:
        pods, _, _ = await registry.list(PODS, target.namespace, labels=labels, fields=fields)
    wanted = {_node_name(p) for p in pods} - {""}
    nodes = [n for name, n in (await _all_nodes(registry)).items() if name in wanted]
    summaries = await scraper.summaries(proxy, nodes)
    out = []
    for pod in sorted(
        pods, key=lambda p: (metadata_of(p).get("namespace", ""), metadata_of(p).get("name", ""))
    ):
        summary = summaries.get(_node_name(pod))
        if summary is None:
            continue
        meta = metadata_of(pod)
        stats = pod_stats(
            summary, meta.get("uid", ""), meta.get("namespace", ""), meta.get("name", "")
        )
        metrics = pod_metrics(pod, stats) if stats else None
        if metrics is not None:
            out.append(metrics)
    return out

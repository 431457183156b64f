"""Where the autoscaler reads pod usage: ``metrics.k8s.io/v1beta1`` PodMetrics, through the API.

``ResourceMetrics`` is the one interface the controller uses; ``APIResourceMetrics``
lists ``/apis/metrics.k8s.io/v1beta1/namespaces/NS/pods?labelSelector=...``
as Kubernetes' resource metrics client does, and sums each pod's containers
for one resource (a pod with a container lacking that resource is left
out). Failures are ``MetricError`` in Kubernetes' words ("unable to fetch
metrics from resource metrics API: ...", "no metrics returned from resource
metrics API").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from orchestrator.api import errors
from orchestrator.api.quantity import QuantityError, to_milli
from orchestrator.api.timestamps import parse_duration, parse_time
from orchestrator.client.rest import APIClient
from orchestrator.controllers.podautoscaler_replicas import MetricError, PodSample

PODMETRICS = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"


class ResourceMetrics(Protocol):
    async def pod_samples(
        self, namespace: str, selector: str, resource: str, container: str = ""
    ) -> dict[str, PodSample]:
        """Each selected pod's latest usage of ``resource`` (of one ``container``, if named).

        MetricError when there is none.
        """
        ...


def window_seconds(text: Any) -> float:
    """A metrics window (Go's duration text: ``10s``, ``1m30s``) in seconds; 0 when unreadable."""
    try:
        return parse_duration(text) if isinstance(text, str) else 0.0
    except ValueError:
        return 0.0


def samples_from_list(
    body: Mapping[str, Any], resource: str, container: str = ""
) -> dict[str, PodSample]:
    out: dict[str, PodSample] = {}
    for item in body.get("items") or []:
        name = (item.get("metadata") or {}).get("name", "")
        listed = item.get("containers") or []
        if container:
            listed = [c for c in listed if c.get("name") == container]
        total, complete = 0, bool(listed)
        for entry in listed:
            value = (entry.get("usage") or {}).get(resource)
            if value is None:
                complete = False
                break
            try:
                total += to_milli(value)
            except QuantityError:
                complete = False
                break
        if complete and name:
            stamp = parse_time(item.get("timestamp")) or datetime.now(UTC)
            out[name] = PodSample(total, stamp, window_seconds(item.get("window")))
    return out


class APIResourceMetrics:
    def __init__(self, client: APIClient) -> None:
        self.client = client

    async def pod_samples(
        self, namespace: str, selector: str, resource: str, container: str = ""
    ) -> dict[str, PodSample]:
        try:
            response = await self.client.request(
                "GET", PODMETRICS.format(namespace=namespace), params={"labelSelector": selector}
            )
        except errors.APIError as exc:
            raise MetricError(
                f"unable to fetch metrics from resource metrics API: {_said(exc)}"
            ) from None
        body = response.json()
        if not body.get("items"):
            raise MetricError("no metrics returned from resource metrics API")
        return samples_from_list(body, resource, container)


def _said(exc: errors.APIError) -> str:
    if isinstance(exc, errors.NotFound):
        return "the server could not find the requested resource (get pods.metrics.k8s.io)"
    return str(exc)

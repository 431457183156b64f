"""From an Ingress backend (Service + port) to the pod addresses a request may go to.

The router runs on the host, without root, so it never goes through a
cluster IP (in root mode that needs the node proxy's DNAT, and in loopback
mode another hop): it dials the ready addresses of the Service's Endpoints,
as ingress-nginx does. Those are reachable from the host in both network
modes: loopback-mode pods listen on their own 127.x address, root-mode and
Docker pods sit on the node's bridge, which the host routes to.

``resolve(service, endpoints, port)`` is pure. The Ingress names the port
by number (``spec.ports[].port``) or by name; the Endpoints list the pods'
target ports under the Service port's name (an unnamed single port: ""). An
empty answer carries the reason, which the 503 page shows: the Service is
missing, has no such port, is an ExternalName, or has no ready endpoint
(and how many are not ready).

A Service annotated ``paas.dev/max-requests-per-endpoint: "<n>"`` (n > 0)
caps the requests each of its ready endpoints carries at once: the
resolution says ``limit`` n, and the proxy admits a request only to an
endpoint with a free slot (``router.capacity``), holding it in the
activator's queue while every endpoint is full. The serving controller sets
it from a Revision's ``containerConcurrency``; anyone may set it on any
Service. A value that is not a positive integer means no cap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from orchestrator.api.objects import Obj
from router.ingressroutes import ServiceRef

MAX_REQUESTS_ANNOTATION = "paas.dev/max-requests-per-endpoint"


@dataclass(frozen=True, slots=True)
class Resolution:
    addresses: tuple[tuple[str, int], ...]  # (ip, port) of ready endpoints
    problem: str = ""  # why there are none
    waiting: bool = False  # the Service and port exist, only no endpoint is ready (yet)
    limit: int = 0  # requests each endpoint carries at once (0: no cap)


def resolve(ref: ServiceRef, service: Obj | None, endpoints: Obj | None) -> Resolution:
    """The ready (ip, port) pairs behind ``ref``, or the reason there are none."""
    if service is None:
        return Resolution((), f"Service {ref.namespace}/{ref.name} does not exist")
    spec = _dict(service.get("spec"))
    if spec.get("type") == "ExternalName":
        return Resolution((), f"Service {ref.namespace}/{ref.name} is an ExternalName Service")
    port_name = _service_port_name(spec, ref.port)
    if port_name is None:
        return Resolution((), f"Service {ref.namespace}/{ref.name} has no port {ref.port}")
    ready: list[tuple[str, int]] = []
    not_ready = 0
    for subset in _list(_dict(endpoints).get("subsets")):
        subset = _dict(subset)
        port = _endpoint_port(_list(subset.get("ports")), port_name)
        if port is None:
            continue
        for address in _list(subset.get("addresses")):
            ip = _dict(address).get("ip")
            if isinstance(ip, str) and ip:
                ready.append((ip, port))
        not_ready += len(_list(subset.get("notReadyAddresses")))
    if not ready:
        waiting = f" ({not_ready} not ready)" if not_ready else ""
        return Resolution(
            (), f"Service {ref.namespace}/{ref.name} has no ready endpoint{waiting}", True
        )
    return Resolution(tuple(ready), limit=_limit(service))


def _limit(service: Obj) -> int:
    value = _dict(_dict(service.get("metadata")).get("annotations")).get(MAX_REQUESTS_ANNOTATION)
    try:
        limit = int(str(value))
    except ValueError:
        return 0
    return max(limit, 0)


def _service_port_name(spec: dict[str, Any], wanted: int | str) -> str | None:
    for port in _list(spec.get("ports")):
        port = _dict(port)
        name = str(port.get("name") or "")
        if (isinstance(wanted, int) and port.get("port") == wanted) or (
            isinstance(wanted, str) and wanted and name == wanted
        ):
            return name
    return None


def _endpoint_port(ports: list[Any], name: str) -> int | None:
    for port in ports:
        port = _dict(port)
        if str(port.get("name") or "") == name and isinstance(port.get("port"), int):
            return int(port["port"])
    return None


class RoundRobin:
    """Spreads requests over a backend's addresses in turn (one counter per Service port)."""

    def __init__(self) -> None:
        self._counters: dict[ServiceRef, itertools.count[int]] = {}

    def pick(self, ref: ServiceRef, addresses: tuple[tuple[str, int], ...]) -> tuple[str, int]:
        counter = self._counters.get(ref)
        if counter is None:
            counter = self._counters[ref] = itertools.count()
        return addresses[next(counter) % len(addresses)]

    def forget(self, keep: set[ServiceRef]) -> None:
        for ref in [r for r in self._counters if r not in keep]:
            del self._counters[ref]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

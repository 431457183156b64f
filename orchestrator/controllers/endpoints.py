"""Endpoints: for each Service with a selector, where its pods can be reached.

``compute_subsets(service, pods)`` is the whole decision, pure: each pod
that has an IP and is not terminating (nor finished) gives an address
(``ip``, ``nodeName``, ``targetRef``) for every service port it can serve.
A named ``targetPort`` is looked up in that pod's own container ports, so
pods of two versions may serve one name on different numbers; a pod lacking
the name is left out of that port. Ready pods go to ``addresses``, the rest
to ``notReadyAddresses`` (all of them ready when the Service says
``publishNotReadyAddresses``). Addresses with the same set of ports share a
subset, as Kubernetes' ``RepackSubsets`` does; everything is sorted, so the
result is stable and a write happens only when it really changed.

The Endpoints object carries the Service's name and labels (plus
``service.kubernetes.io/headless`` for headless services) and no owner; it
is deleted when the Service goes. Services without a selector are left
alone: their Endpoints belong to whoever wrote them.

Pod events enqueue the services whose selectors match the pod's old or new
labels; Endpoints events enqueue their service (healing hand edits).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable

from orchestrator.api import errors
from orchestrator.api.conditions import condition_status
from orchestrator.api.objects import Obj, labels_of, metadata_of
from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.api.selectors import selector_from_labels
from orchestrator.client.context import ControllerContext
from orchestrator.client.informer import Handler, object_key, split_key
from orchestrator.client.workers import run_workers
from orchestrator.client.workqueue import WorkQueue

log = logging.getLogger(__name__)
HEADLESS_LABEL = "service.kubernetes.io/headless"


_rt = BUILTIN_TYPES.require
SERVICES = _rt("", "Service")
ENDPOINTS = _rt("", "Endpoints")
PODS = _rt("", "Pod")


def _pod_ready(pod: Obj) -> bool:
    return condition_status(pod, "Ready") == "True"


def resolve_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod's port number for ``service_port``'s targetPort, or None if it has none."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str) and target.isascii() and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _address(pod: Obj) -> Obj:
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    address: Obj = {"ip": pod["status"]["podIP"]}
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    address["targetRef"] = {
        "kind": "Pod",
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "uid": meta.get("uid", ""),
    }
    return address


def _endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _port_key(port: Obj) -> tuple[str, int, str]:
    return (port.get("name", ""), port["port"], port["protocol"])


def _serves(pod: Obj, tolerate_unready: bool) -> bool:
    status = pod.get("status") or {}
    if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
        return False
    return tolerate_unready or not pod["metadata"].get("deletionTimestamp")


def compute_subsets(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The ``subsets`` of the Service's Endpoints, from the pods its selector matched."""
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    headless = spec.get("clusterIP") == "None"
    service_ports = spec.get("ports") or []
    # (ports as a sorted tuple) -> {"ready": [...], "unready": [...]}
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pod in pods:
        if not _serves(pod, tolerate_unready):
            continue
        ports = []
        for service_port in service_ports:
            number = resolve_port(pod, service_port)
            if number is not None:
                ports.append(_endpoint_port(service_port, number))
        if not ports and (service_ports or not headless):
            continue
        key = tuple(sorted(_port_key(p) for p in ports))
        group = groups.setdefault(key, {"ready": [], "unready": [], "ports": ports})
        ready = tolerate_unready or _pod_ready(pod)
        group["ready" if ready else "unready"].append(_address(pod))
    subsets = []
    for key in sorted(groups):
        group = groups[key]
        subset: Obj = {}
        if group["ready"]:
            subset["addresses"] = sorted(group["ready"], key=_order)
        if group["unready"]:
            subset["notReadyAddresses"] = sorted(group["unready"], key=_order)
        if group["ports"]:
            subset["ports"] = sorted(group["ports"], key=_port_key)
        subsets.append(subset)
    return subsets


def _order(address: Obj) -> tuple[str, str]:
    return (address["ip"], address["targetRef"]["uid"])


def endpoints_labels(service: Obj) -> dict[str, str]:
    labels = dict(labels_of(service))
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


class EndpointsController:
    name = "endpoints"

    def __init__(self, ctx: ControllerContext, settings: object | None = None) -> None:
        self.ctx = ctx
        self.queue = WorkQueue(ctx.backoff, name="endpoint")
        self.services = ctx.informers.informer(SERVICES)
        self.pods = ctx.informers.informer(PODS)
        self.endpoints = ctx.informers.informer(ENDPOINTS)
        self.services.add_handler(
            Handler(self._enqueue, lambda _o, n: self._enqueue(n), self._enqueue)
        )
        self.pods.add_handler(Handler(self._on_pod, self._on_pod_update, self._on_pod))
        self.endpoints.add_handler(Handler(None, lambda _o, n: self._enqueue(n), self._enqueue))

    def _enqueue(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))

    def _services_for(self, pod: Obj) -> list[str]:
        labels = labels_of(pod)
        keys = []
        for service in self.services.list(metadata_of(pod).get("namespace", "")):
            selector = (service.get("spec") or {}).get("selector")
            if selector and selector_from_labels(selector).matches(labels):
                keys.append(object_key(service))
        return keys

    def _on_pod(self, pod: Obj) -> None:
        for key in self._services_for(pod):
            self.queue.add(key)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        for key in set(self._services_for(old)) | set(self._services_for(new)):
            self.queue.add(key)

    async def run(self) -> None:
        await run_workers(self.queue, self.reconcile, workers=self.ctx.workers, name=self.name)

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        service = self.services.get(key)
        current = self.endpoints.get(key)
        if service is None:
            if current is not None:
                try:
                    await self.ctx.client.delete(ENDPOINTS, name, namespace)
                except errors.NotFound:
                    pass
            return None
        selector = (service.get("spec") or {}).get("selector")
        if not selector:
            return None  # not ours
        matcher = selector_from_labels(selector)
        pods = [p for p in self.pods.list(namespace) if matcher.matches(labels_of(p))]
        subsets = compute_subsets(service, pods)
        labels = endpoints_labels(service)
        if current is not None:
            if (current.get("subsets") or []) == subsets and labels_of(current) == labels:
                return None
            updated = copy.deepcopy(current)
            updated["metadata"]["labels"] = labels
            updated["subsets"] = subsets
            await self.ctx.client.replace(ENDPOINTS, updated, namespace)
            return None
        body = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "subsets": subsets,
        }
        try:
            await self.ctx.client.create(ENDPOINTS, body, namespace)
        except errors.AlreadyExists:
            # the cache is behind; retry from the object once it arrives
            raise errors.Conflict(f"endpoints {key} exist already") from None
        return None

"""The API server's own Service, ``default/kubernetes``, as every Kubernetes cluster has it.

With an advertise address set, the API server keeps a selector-less Service
``default/kubernetes`` at the first address of the service range (10.96.0.1;
the allocator never hands it out), port 443 named ``https``, and Endpoints
naming the advertise address and the port it really bound. The node proxy
then carries ``https://kubernetes.default.svc`` (and the
``KUBERNETES_SERVICE_HOST``/``_PORT`` variables every pod gets) to the API
server, as kube-apiserver's bootstrap controller does. It is written at
start, so a restart on another port or address corrects the Endpoints.

A Service ``kubernetes`` that somebody else made with another cluster IP is
logged and left alone.
"""

from __future__ import annotations

import ipaddress
import logging

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.api.resources import ResourceTypes
from orchestrator.apiserver.registry import Registry, WriteOptions

log = logging.getLogger(__name__)

NAMESPACE, NAME = "default", "kubernetes"
PORT = 443
LABELS = {"component": "apiserver", "provider": "kubernetes"}


def kubernetes_ip(service_cidr: str) -> str:
    """The API server's cluster IP: the first address of the service range."""
    return str(ipaddress.ip_network(service_cidr).network_address + 1)


def kubernetes_names(service_cidr: str, cluster_domain: str = "cluster.local") -> list[str]:
    """What pods call the API server by: its certificate must name all of them."""
    service = f"{NAME}.{NAMESPACE}.svc"
    names = [NAME, f"{NAME}.{NAMESPACE}", service, f"{service}.{cluster_domain}"]
    return [kubernetes_ip(service_cidr), *names]


def kubernetes_service(cluster_ip: str, target_port: int) -> Obj:
    port = {"name": "https", "port": PORT, "protocol": "TCP", "targetPort": target_port}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": [port]},
    }


def kubernetes_subsets(address: str, port: int) -> list[Obj]:
    return [
        {
            "addresses": [{"ip": address}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }
    ]


async def publish_self(
    registry: Registry, types: ResourceTypes, service_cidr: str, address: str, port: int
) -> bool:
    """Create or correct ``default/kubernetes`` and its Endpoints; False when it could not."""
    services = types.by_group_kind("", "Service")
    endpoints = types.by_group_kind("", "Endpoints")
    assert services is not None and endpoints is not None
    cluster_ip = kubernetes_ip(service_cidr)
    wanted_svc = kubernetes_service(cluster_ip, port)
    opts = WriteOptions()
    try:
        try:
            svc = await registry.get(services, NAMESPACE, NAME)
        except errors.NotFound:
            svc = (await registry.create(services, NAMESPACE, wanted_svc, opts)).obj
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") != cluster_ip:
            log.error(
                "Service %s/%s has cluster IP %s, not %s: delete it to move it",
                NAMESPACE,
                NAME,
                spec.get("clusterIP"),
                cluster_ip,
            )
            return False
        ports = wanted_svc["spec"]["ports"]
        if spec.get("ports") != ports:  # restarted on another port
            svc["spec"]["ports"] = ports
            await registry.update(services, NAMESPACE, NAME, svc, opts)
        wanted: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
            "subsets": kubernetes_subsets(address, port),
        }
        try:
            current = await registry.get(endpoints, NAMESPACE, NAME)
        except errors.NotFound:
            await registry.create(endpoints, NAMESPACE, wanted, opts)
        else:
            if current.get("subsets") != wanted["subsets"]:
                wanted["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                await registry.update(endpoints, NAMESPACE, NAME, wanted, opts)
    except errors.APIError as exc:
        log.error("cannot publish the Service %s/%s at %s: %s", NAMESPACE, NAME, cluster_ip, exc)
        return False
    return True

"""The cluster DNS as one component: the record feed, the server, and its own Service.

``run_cluster_dns(client, settings)`` starts the informers, waits (up to
``sync_timeout``) for their first list so that the server never answers
NXDOMAIN for a Service that exists, binds the server, then runs until
cancelled. An informer that dies ends it with that error (its supervisor
restarts the process).

With ``service_ip`` set it also publishes itself as the selector-less Service
``kube-system/kube-dns`` with that cluster IP, port 53 over UDP and TCP,
and an Endpoints object naming ``advertise_address`` and the port it really
bound, so that the node proxy sends pods' queries to ``<service_ip>:53`` here
and each pod's resolv.conf can name that one address. A cluster IP that the
Service already has differently, or that another Service holds, is logged
and left alone: DNS keeps serving on its own port either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.api import errors
from orchestrator.api.objects import Obj
from orchestrator.client.informer import InformerSettings
from orchestrator.client.rest import APIClient
from orchestrator.client.workers import SharedInformers
from router.dns import DNSServer, DNSSettings
from router.dnsfeed import ENDPOINTS, SERVICES, feed_records, wait_synced
from router.dnsrecords import ClusterRecords

log = logging.getLogger(__name__)

DNS_NAMESPACE = "kube-system"
DNS_SERVICE = "kube-dns"


@dataclass(frozen=True)
class ClusterDNSSettings:
    dns: DNSSettings = field(default_factory=DNSSettings)
    cluster_domain: str = "cluster.local"  # the zone Services are named under
    sync_timeout: float = 5.0  # seconds to wait for the first list before serving anyway
    service_ip: str = ""  # publish kube-system/kube-dns with this cluster IP ("" = do not)
    advertise_address: str = ""  # the address the kube-dns Endpoints name (default: the host)
    informer: InformerSettings = field(default_factory=InformerSettings)


def dns_service(service_ip: str) -> Obj:
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": DNS_SERVICE,
            "namespace": DNS_NAMESPACE,
            "labels": {"k8s-app": "kube-dns"},
        },
        "spec": {"clusterIP": service_ip, "clusterIPs": [service_ip], "ports": ports},
    }


def dns_endpoints(address: str, port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": DNS_SERVICE,
            "namespace": DNS_NAMESPACE,
            "labels": {"k8s-app": "kube-dns"},
        },
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [
                    {"name": "dns", "port": port, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": port, "protocol": "TCP"},
                ],
            }
        ],
    }


async def register_dns_service(client: APIClient, service_ip: str, address: str, port: int) -> bool:
    """Create or correct kube-system/kube-dns and its Endpoints; False when it could not."""
    try:
        try:
            svc = await client.get(SERVICES, DNS_SERVICE, DNS_NAMESPACE)
        except errors.NotFound:
            svc = await client.create(SERVICES, dns_service(service_ip), DNS_NAMESPACE)
        if (svc.get("spec") or {}).get("clusterIP") != service_ip:
            log.error(
                "Service %s/%s has cluster IP %s, not %s: delete it to move it",
                DNS_NAMESPACE,
                DNS_SERVICE,
                svc["spec"].get("clusterIP"),
                service_ip,
            )
            return False
        wanted = dns_endpoints(address, port)
        try:
            current = await client.get(ENDPOINTS, DNS_SERVICE, DNS_NAMESPACE)
        except errors.NotFound:
            await client.create(ENDPOINTS, wanted, DNS_NAMESPACE)
        else:
            if current.get("subsets") != wanted["subsets"]:
                wanted["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                await client.replace(ENDPOINTS, wanted, DNS_NAMESPACE)
    except errors.APIError as exc:
        log.error("cannot publish the DNS Service %s at %s: %s", DNS_SERVICE, service_ip, exc)
        return False
    return True


async def run_cluster_dns(
    client: APIClient,
    settings: ClusterDNSSettings,
    on_serving: Callable[[DNSServer], None] | None = None,
) -> None:
    """Serve until cancelled; ``on_serving`` is told once the server is bound."""
    records = ClusterRecords(settings.cluster_domain)
    informers = SharedInformers(client, settings.informer)
    feed = feed_records(informers, records)
    tasks = [asyncio.create_task(i.run(), name=f"dns-{i.rt.plural}") for i in feed]
    server = DNSServer(records, settings.dns)
    try:
        await wait_synced(feed, settings.sync_timeout)
        host, port = await server.start()
        address = settings.advertise_address or host
        if settings.service_ip and address in ("0.0.0.0", "::"):
            log.error("not publishing kube-dns: listening on %s needs an advertise address", host)
        elif settings.service_ip:
            await register_dns_service(client, settings.service_ip, address, port)
        if on_serving is not None:
            on_serving(server)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # an informer only returns by failing: raise its error
    finally:
        await server.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

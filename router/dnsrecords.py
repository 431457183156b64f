"""The cluster DNS's record table: Services, Endpoints and Pods turned into DNS records.

The shapes follow Kubernetes' DNS-based service discovery specification
(schema 1.1.0), under the cluster zone (``cluster.local`` by default):

- a Service with a cluster IP: ``<svc>.<ns>.svc.<zone>`` A/AAAA -> the
  cluster IP(s); ``_<port>._<proto>.<svc>.<ns>.svc.<zone>`` SRV -> the
  Service port and ``<svc>.<ns>.svc.<zone>`` for each *named* port; the
  cluster IP's reverse name PTR -> ``<svc>.<ns>.svc.<zone>``;
- a headless Service (``clusterIP: None``): ``<svc>.<ns>.svc.<zone>`` -> one
  A/AAAA per ready endpoint address; ``<hostname>.<svc>.<ns>.svc.<zone>`` ->
  that endpoint, where the hostname is the address's own ``hostname``, else
  its Pod's ``spec.hostname`` when the Pod's ``spec.subdomain`` names the
  Service, else the address with dashes (``10-244-0-5``, as CoreDNS does);
  SRV: one per ready endpoint and named port, with the endpoint's port and
  that hostname as target; PTR from each ready address to its hostname name;
- an ExternalName Service: ``<svc>.<ns>.svc.<zone>`` CNAME -> the external name;
- ``dns-version.<zone>`` TXT -> the schema version.

An address is ready when it is in ``addresses``, or in ``notReadyAddresses``
of a Service that publishes them (``publishNotReadyAddresses`` or the older
tolerate-unready annotation). A headless Service with no ready address still
exists: its name answers NODATA, not NXDOMAIN.

The table is pure (no I/O): informer handlers call ``apply_*``/``remove_*``
with API objects; each change recomputes the records of the one Service it
concerns and swaps them in. ``generation`` grows only when some record really
changed, so that a server's packet cache is dropped exactly then. Every name
under the zone that owns a record, and every name between it and the zone
(an "empty non-terminal" such as ``default.svc.cluster.local``), exists;
any other name under the zone does not (NXDOMAIN). Names are kept lower-case
with a trailing dot; lookups must lower-case too (DNS names compare
case-insensitively).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orchestrator.api.objects import Obj, metadata_of

SCHEMA_VERSION = "1.1.0"
TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class SRVData:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Record:
    """One resource record: ``owner`` lower-case with a trailing dot; ``data`` by type.

    A/AAAA: the address; PTR/CNAME: a name with a trailing dot; TXT: the text;
    SRV: an ``SRVData``.
    """

    owner: str
    rtype: str
    data: str | SRVData


@dataclass(frozen=True)
class Port:
    name: str
    protocol: str
    port: int


@dataclass(frozen=True)
class ServiceInfo:
    """What DNS needs of a Service."""

    namespace: str
    name: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName
    headless: bool
    external_name: str
    ports: tuple[Port, ...]
    publish_not_ready: bool


@dataclass(frozen=True)
class EndpointAddress:
    ip: str
    ready: bool
    hostname: str  # the address's own hostname field, "" when unset
    pod: str  # "namespace/name" of the targetRef Pod, "" when none
    ports: tuple[Port, ...]


def fqdn(name: str) -> str:
    """``name`` lower-case with exactly one trailing dot."""
    return name.strip(".").lower() + "."


def reverse_name(ip: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address (with a trailing dot)."""
    return ipaddress.ip_address(ip).reverse_pointer + "."


def address_type(ip: str) -> str:
    return "AAAA" if ":" in ip else "A"


def dashed(ip: str) -> str:
    """An address as one DNS label: ``10.244.0.5`` -> ``10-244-0-5``."""
    return ip.replace(".", "-").replace(":", "-")


def _valid_ip(ip: object) -> bool:
    if not isinstance(ip, str):
        return False
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return False
    return True


def _ports(raw: Iterable[Obj] | None) -> tuple[Port, ...]:
    out = []
    for p in raw or ():
        number = p.get("port")
        if isinstance(number, int) and not isinstance(number, bool):
            out.append(Port(str(p.get("name") or ""), str(p.get("protocol") or "TCP"), number))
    return tuple(out)


def service_info(svc: Obj) -> ServiceInfo:
    meta = metadata_of(svc)
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    headless = spec.get("clusterIP") == "None"
    external = spec.get("externalName", "") if spec.get("type") == "ExternalName" else ""
    annotations = meta.get("annotations") or {}
    return ServiceInfo(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta["name"]),
        cluster_ips=tuple(ip for ip in ips if _valid_ip(ip))
        if not headless and not external
        else (),
        headless=headless and not external,
        external_name=str(external or ""),
        ports=_ports(spec.get("ports")),
        publish_not_ready=bool(spec.get("publishNotReadyAddresses"))
        or str(annotations.get(TOLERATE_UNREADY, "")).lower() == "true",
    )


def endpoint_addresses(endpoints: Obj) -> tuple[EndpointAddress, ...]:
    out = []
    for subset in endpoints.get("subsets") or []:
        ports = _ports(subset.get("ports"))
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a in subset.get(field) or []:
                if not _valid_ip(a.get("ip")):
                    continue
                ref = a.get("targetRef") or {}
                pod = f"{ref.get('namespace', '')}/{ref['name']}" if ref.get("name") else ""
                if ref.get("kind", "Pod") != "Pod":
                    pod = ""
                out.append(
                    EndpointAddress(
                        ip=a["ip"],
                        ready=ready,
                        hostname=str(a.get("hostname") or "").lower(),
                        pod=pod,
                        ports=ports,
                    )
                )
    return tuple(out)


def service_records(
    zone: str,
    svc: ServiceInfo,
    addresses: Iterable[EndpointAddress] = (),
    pod_hostnames: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[Record, ...]:
    """Every record one Service contributes (``zone`` as from ``fqdn``).

    ``pod_hostnames`` maps "namespace/name" of a Pod to its (hostname, subdomain).
    """
    base = f"{svc.name}.{svc.namespace}.svc.{zone}".lower()
    records: list[Record] = []
    if svc.external_name:
        return (Record(base, "CNAME", fqdn(svc.external_name)),)
    if not svc.headless:
        for ip in svc.cluster_ips:
            records.append(Record(base, address_type(ip), ip))
            records.append(Record(reverse_name(ip), "PTR", base))
        for port in svc.ports:
            if port.name:
                owner = f"_{port.name}._{port.protocol}.{base}".lower()
                records.append(Record(owner, "SRV", SRVData(0, 100, port.port, base)))
        return tuple(records)
    hostnames = pod_hostnames or {}
    seen: set[Record] = set()
    for address in addresses:
        if not (address.ready or svc.publish_not_ready):
            continue
        host = _hostname(address, svc, hostnames)
        target = f"{host}.{base}"
        rtype = address_type(address.ip)
        for record in (
            Record(base, rtype, address.ip),
            Record(target, rtype, address.ip),
            Record(reverse_name(address.ip), "PTR", target),
            *(
                Record(
                    f"_{p.name}._{p.protocol}.{base}".lower(),
                    "SRV",
                    SRVData(0, 100, p.port, target),
                )
                for p in address.ports
                if p.name
            ),
        ):
            if record not in seen:
                seen.add(record)
                records.append(record)
    return tuple(records)


def _hostname(
    address: EndpointAddress, svc: ServiceInfo, pods: Mapping[str, tuple[str, str]]
) -> str:
    if address.hostname and _LABEL.match(address.hostname):
        return address.hostname
    hostname, subdomain = pods.get(address.pod, ("", ""))
    if hostname and subdomain == svc.name and _LABEL.match(hostname):
        return hostname
    return dashed(address.ip)


def _key(obj: Obj) -> str:
    meta = metadata_of(obj)
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


class ClusterRecords:
    """The records of every Service in the cluster, kept from informer events."""

    def __init__(self, cluster_domain: str = "cluster.local") -> None:
        self.zone = fqdn(cluster_domain)
        self.generation = 0
        self._services: dict[str, ServiceInfo] = {}
        self._addresses: dict[str, tuple[EndpointAddress, ...]] = {}
        self._pod_hostnames: dict[str, tuple[str, str]] = {}
        self._contributed: dict[str, tuple[tuple[Record, ...], str]] = {}
        self._names: dict[str, dict[str, list[Record]]] = {}
        self._exists: Counter[str] = Counter()
        self._add((Record(f"dns-version.{self.zone}", "TXT", SCHEMA_VERSION),))

    # -- reading ---------------------------------------------------------------

    def in_zone(self, name: str) -> bool:
        """Whether a lower-case FQDN is the cluster zone or under it."""
        return name == self.zone or name.endswith("." + self.zone)

    def exists(self, name: str) -> bool:
        """Whether a lower-case FQDN owns records or has names below it that do."""
        return name == self.zone or name in self._exists

    def records(self, name: str, rtype: str) -> list[Record]:
        """The records of one type at a lower-case FQDN (``ANY``: all of them)."""
        at = self._names.get(name)
        if not at:
            return []
        if rtype == "ANY":
            return [r for rs in at.values() for r in rs]
        return list(at.get(rtype, ()))

    def types(self, name: str) -> set[str]:
        return set(self._names.get(name, ()))

    # -- keeping it --------------------------------------------------------------

    def apply_service(self, svc: Obj) -> None:
        key = _key(svc)
        self._services[key] = service_info(svc)
        self._refresh(key)

    def remove_service(self, svc: Obj) -> None:
        key = _key(svc)
        self._services.pop(key, None)
        self._refresh(key)

    def apply_endpoints(self, endpoints: Obj) -> None:
        key = _key(endpoints)
        self._addresses[key] = endpoint_addresses(endpoints)
        self._refresh(key)

    def remove_endpoints(self, endpoints: Obj) -> None:
        key = _key(endpoints)
        self._addresses.pop(key, None)
        self._refresh(key)

    def apply_pod(self, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        hostname = str(spec.get("hostname") or "").lower()
        subdomain = str(spec.get("subdomain") or "")
        self._set_pod(_key(pod), (hostname, subdomain) if hostname and subdomain else None)

    def remove_pod(self, pod: Obj) -> None:
        self._set_pod(_key(pod), None)

    def _set_pod(self, key: str, value: tuple[str, str] | None) -> None:
        old = self._pod_hostnames.get(key)
        if old == value:
            return
        if value is None:
            del self._pod_hostnames[key]
        else:
            self._pod_hostnames[key] = value
        namespace = key.split("/", 1)[0]
        for hs in {old, value} - {None}:
            assert hs is not None
            self._refresh(f"{namespace}/{hs[1]}")

    def _refresh(self, key: str) -> None:
        svc = self._services.get(key)
        fresh: tuple[Record, ...] = ()
        name = ""  # a Service's own name exists even with no records (headless, no endpoints)
        if svc is not None:
            fresh = service_records(
                self.zone, svc, self._addresses.get(key, ()), self._pod_hostnames
            )
            name = f"{svc.name}.{svc.namespace}.svc.{self.zone}".lower()
        old, old_name = self._contributed.get(key, ((), ""))
        if fresh == old and name == old_name:
            return
        self._remove(old)
        self._count(old_name, -1)
        self._add(fresh)
        self._count(name, +1)
        if svc is None:
            self._contributed.pop(key, None)
        else:
            self._contributed[key] = (fresh, name)
        self.generation += 1

    def _count(self, owner: str, delta: int) -> None:
        if not owner:
            return
        for name in self._lineage(owner):
            self._exists[name] += delta
            if self._exists[name] <= 0:
                del self._exists[name]

    def _add(self, records: Iterable[Record]) -> None:
        for r in records:
            self._names.setdefault(r.owner, {}).setdefault(r.rtype, []).append(r)
            self._count(r.owner, +1)

    def _remove(self, records: Iterable[Record]) -> None:
        for r in records:
            at = self._names.get(r.owner, {})
            same = at.get(r.rtype, [])
            if r in same:
                same.remove(r)
            if not same:
                at.pop(r.rtype, None)
            if not at:
                self._names.pop(r.owner, None)
            self._count(r.owner, -1)

    def _lineage(self, owner: str) -> list[str]:
        """The owner and every name between it and the zone (reverse names: the owner)."""
        if not self.in_zone(owner):
            return [owner]
        names = []
        name = owner
        while name != self.zone:
            names.append(name)
            name = name.split(".", 1)[1]
        return names

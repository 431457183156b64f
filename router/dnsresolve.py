"""Answering one DNS query from the record table: pure, no I/O.

``resolve(query, table, settings)`` returns the reply for every name the
cluster DNS is authoritative for, and None for the rest (the server then
forwards the query to its upstream or refuses it). Authoritative means:

- the cluster zone (``cluster.local``): records from ``ClusterRecords``;
  a name that does not exist there is NXDOMAIN, a name that exists without
  records of the asked type is NODATA (NOERROR, no answer); both carry the
  zone's SOA in the authority section, whose minimum is the TTL, so that
  resolvers cache the negative answer no longer than a positive one;
- reverse names (``in-addr.arpa``/``ip6.arpa``) of cluster IPs and ready
  headless endpoints: PTR. Other reverse names are not ours (forwarded);
- the app domain and every name under it (``*.<domain>``): the router's
  addresses, so that ``http://anything.<domain>`` reaches the router.

Answers at the asked name repeat the question's own spelling (clients that
randomise letter case, "DNS 0x20", check it); names compare lower-case.
SRV answers carry the targets' addresses in the additional section. A query
with EDNS gets our own OPT record back (our buffer size); an unknown EDNS
version is BADVERS, an opcode other than QUERY NOTIMP, a message without
exactly one question FORMERR. Truncation to the transport's size is the
server's job, not this module's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dnslib import (
    AAAA,
    CLASS,
    CNAME,
    EDNS0,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    SRV,
    TXT,
    A,
    DNSLabel,
    DNSRecord,
)
from dnslib.dns import OPCODE, RD

from router.dnsrecords import ClusterRecords, Record, SRVData, fqdn

OPT = 41
BADVERS = 16  # an extended rcode: 1 in the OPT record's high bits, 0 in the header


@dataclass(frozen=True)
class ResolverSettings:
    ttl: int = 5  # seconds on every answer, as CoreDNS's kubernetes plugin (a setting there too)
    app_domain: str = "localhost"  # the domain whose every name points at the router
    router_ips: tuple[str, ...] = ()  # the router's addresses; empty: the domain is not served
    recursion_available: bool = False  # RA flag: true when an upstream resolves other names
    udp_payload: int = 1232  # the EDNS buffer size we advertise (DNS flag day 2020's figure)


def resolve(
    query: DNSRecord, table: ClusterRecords, settings: ResolverSettings
) -> DNSRecord | None:
    """The reply to ``query``, or None when the name is not ours."""
    opt = next((rr for rr in query.ar if rr.rtype == OPT), None)
    if query.header.opcode != OPCODE.QUERY:
        return _error(query, opt, settings, RCODE.NOTIMP)
    if len(query.questions) != 1:
        return _error(query, opt, settings, RCODE.FORMERR)
    if opt is not None and (opt.ttl >> 16) & 0xFF != 0:
        reply = _reply(query, settings, aa=False)
        reply.add_ar(EDNS0(udp_len=settings.udp_payload, ext_rcode=BADVERS >> 4))
        return reply
    q = query.q
    name = str(q.qname).lower()
    qtype = QTYPE.get(q.qtype, str(q.qtype))
    if q.qclass not in (CLASS.IN, 255):
        return _error(query, opt, settings, RCODE.REFUSED) if _ours(name, table, settings) else None
    if table.in_zone(name):
        return _cluster(query, opt, name, qtype, table, settings)
    if table.types(name):  # a reverse name we know
        reply = _reply(query, settings)
        for r in table.records(name, qtype):
            reply.add_answer(_rr(r, settings.ttl, q.qname))
        return _finish(reply, opt, settings)
    app = fqdn(settings.app_domain) if settings.router_ips else ""
    if app and (name == app or name.endswith("." + app)):
        return _wildcard(query, opt, app, qtype, settings)
    return None


def refuse(query: DNSRecord, settings: ResolverSettings) -> DNSRecord:
    """REFUSED: the reply to a name that is not ours when nothing is forwarded."""
    opt = next((rr for rr in query.ar if rr.rtype == OPT), None)
    return _error(query, opt, settings, RCODE.REFUSED)


def _ours(name: str, table: ClusterRecords, settings: ResolverSettings) -> bool:
    app = fqdn(settings.app_domain) if settings.router_ips else ""
    return (
        table.in_zone(name)
        or bool(table.types(name))
        or bool(app and (name == app or name.endswith("." + app)))
    )


def _cluster(
    query: DNSRecord,
    opt: RR | None,
    name: str,
    qtype: str,
    table: ClusterRecords,
    settings: ResolverSettings,
) -> DNSRecord:
    reply = _reply(query, settings)
    qname = query.q.qname
    if not table.exists(name):
        reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(_soa(table.zone, table.generation, settings.ttl))
        return _finish(reply, opt, settings)
    if name == table.zone and qtype in ("SOA", "ANY"):
        reply.add_answer(_soa(table.zone, table.generation, settings.ttl, owner=qname))
    answers = table.records(name, qtype)
    if not answers and qtype != "CNAME":
        cname = table.records(name, "CNAME")
        if cname:
            answers = cname
            target = str(cname[0].data)
            if table.in_zone(target):  # follow an alias inside the zone; outside is the client's
                answers = answers + table.records(target, qtype)
    for r in answers:
        reply.add_answer(_rr(r, settings.ttl, qname if r.owner == name else None))
    if not reply.rr:
        reply.add_auth(_soa(table.zone, table.generation, settings.ttl))
    for target in _srv_targets(answers):
        for rtype in ("A", "AAAA"):
            for r in table.records(target, rtype):
                reply.add_ar(_rr(r, settings.ttl))
    return _finish(reply, opt, settings)


def _wildcard(
    query: DNSRecord, opt: RR | None, zone: str, qtype: str, settings: ResolverSettings
) -> DNSRecord:
    reply = _reply(query, settings)
    for ip in settings.router_ips:
        rtype = "AAAA" if ":" in ip else "A"
        if qtype in (rtype, "ANY"):
            reply.add_answer(_rr(Record(zone, rtype, ip), settings.ttl, query.q.qname))
    if not reply.rr:
        reply.add_auth(_soa(zone, 0, settings.ttl))
    return _finish(reply, opt, settings)


def _srv_targets(answers: Iterable[Record]) -> list[str]:
    targets: list[str] = []
    for r in answers:
        if isinstance(r.data, SRVData) and r.data.target not in targets:
            targets.append(r.data.target)
    return targets


def _reply(query: DNSRecord, settings: ResolverSettings, aa: bool = True) -> DNSRecord:
    reply = query.reply(ra=int(settings.recursion_available), aa=int(aa))
    reply.header.ad = 0  # dnslib copies the query's flags; we validate nothing (RFC 6840 5.8)
    reply.header.z = 0
    return reply


def _finish(reply: DNSRecord, opt: RR | None, settings: ResolverSettings) -> DNSRecord:
    """Our OPT record last in the additional section, when the query had one."""
    if opt is not None:
        reply.add_ar(EDNS0(udp_len=settings.udp_payload))
    return reply


def _error(query: DNSRecord, opt: RR | None, settings: ResolverSettings, rcode: int) -> DNSRecord:
    reply = DNSRecord(_reply(query, settings, aa=False).header)
    reply.questions = list(query.questions[:1])
    reply.header.rcode = rcode
    return _finish(reply, opt, settings)


def _soa(zone: str, serial: int, ttl: int, owner: DNSLabel | None = None) -> RR:
    times = (serial % 2**32, 7200, 1800, 86400, ttl)
    rdata = SOA(mname=f"ns.dns.{zone}", rname=f"hostmaster.{zone}", times=times)
    return RR(owner or zone, QTYPE.SOA, ttl=ttl, rdata=rdata)


def _rr(record: Record, ttl: int, owner: DNSLabel | None = None) -> RR:
    rdata: RD
    data = record.data
    if isinstance(data, SRVData):
        rdata = SRV(priority=data.priority, weight=data.weight, port=data.port, target=data.target)
    elif record.rtype == "A":
        rdata = A(data)
    elif record.rtype == "AAAA":
        rdata = AAAA(data)
    elif record.rtype == "PTR":
        rdata = PTR(data)
    elif record.rtype == "CNAME":
        rdata = CNAME(data)
    else:
        rdata = TXT(data)
    return RR(owner or record.owner, getattr(QTYPE, record.rtype), ttl=ttl, rdata=rdata)

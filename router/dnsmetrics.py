"""The cluster DNS's Prometheus metrics, with CoreDNS's names (its ``prometheus`` plugin).

- ``coredns_dns_requests_total{server,zone,proto,family,type}``
- ``coredns_dns_responses_total{server,zone,rcode}``
- ``coredns_dns_request_duration_seconds{server,zone,type}`` (CoreDNS's
  buckets: 0.25 ms doubling to 8 s)

``server`` is ``dns://HOST:PORT``; ``zone`` is ``.`` (one server block
answers every name). Uncommon query types are counted as ``other``, as
CoreDNS does, so odd queries cannot grow the series.

Counting is plain arithmetic on dicts in the query path, turned into
metric families at scrape time (the router's way, ``router.metrics``): a
cached answer costs a few microseconds, and ``labels().inc()`` for each of
three metrics would have doubled it. The type is read from the query's
bytes (after the name), the rcode from the reply's header: no parsing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

BUCKETS = tuple(0.00025 * 2**i for i in range(16))
ZONE = "."
TYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
    33: "SRV", 35: "NAPTR", 43: "DS", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 252: "AXFR",
    255: "ANY",
}  # fmt: skip
RCODES = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
}  # fmt: skip


def query_type(data: bytes) -> str:
    """The first question's type, from the message's bytes ("other" if unknown or unreadable)."""
    i, end = 12, len(data)
    while i < end:
        length = data[i]
        if length == 0:
            break
        if length & 0xC0:  # a pointer cannot start a question's name; treat as unreadable
            return "other"
        i += length + 1
    if i + 3 > end:
        return "other"
    return TYPES.get((data[i + 1] << 8) | data[i + 2], "other")


class DNSStats(Collector):
    """Counts for every DNS server of the process (``server`` label)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], int] = {}
        self.responses: dict[tuple[str, int], int] = {}
        self.durations: dict[tuple[str, str], list[float]] = {}  # buckets..., sum

    def record(
        self, server: str, proto: str, family: str, query: bytes, reply: bytes, seconds: float
    ) -> None:
        qtype = query_type(query)
        key = (server, proto, family, qtype)
        self.requests[key] = self.requests.get(key, 0) + 1
        rkey = (server, reply[3] & 0x0F if len(reply) > 3 else 2)
        self.responses[rkey] = self.responses.get(rkey, 0) + 1
        row = self.durations.get((server, qtype))
        if row is None:
            row = self.durations[(server, qtype)] = [0.0] * (len(BUCKETS) + 2)
        row[bisect_left(BUCKETS, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "coredns_dns_requests",
            "Counter of DNS requests made per zone, protocol and family.",
            labels=["server", "zone", "proto", "family", "type"],
        )
        for (server, proto, family, qtype), n in sorted(self.requests.items()):
            requests.add_metric([server, ZONE, proto, family, qtype], n)
        responses = CounterMetricFamily(
            "coredns_dns_responses",
            "Counter of response status codes.",
            labels=["server", "zone", "rcode"],
        )
        for (server, rcode), n in sorted(self.responses.items()):
            responses.add_metric([server, ZONE, RCODES.get(rcode, str(rcode))], n)
        durations = HistogramMetricFamily(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took per zone.",
            labels=["server", "zone", "type"],
        )
        for (server, qtype), row in sorted(self.durations.items()):
            cumulative, buckets = 0.0, list[tuple[str, float]]()
            for bound, hits in zip((*map(str, BUCKETS), "+Inf"), row[:-1], strict=True):
                cumulative += hits
                buckets.append((bound, cumulative))
            durations.add_metric([server, ZONE, qtype], buckets, row[-1])
        yield from (requests, responses, durations)


DNS = DNSStats()
REGISTRY.register(DNS)

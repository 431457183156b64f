"""The service proxy's Prometheus metrics, with kube-proxy's names.

Recorded around each sync of the rules (``feed.ServiceFeed.run``), whichever
proxier programs them (kernel DNAT or the userspace listeners):
``kubeproxy_sync_proxy_rules_duration_seconds`` for every sync and
``kubeproxy_sync_proxy_rules_last_timestamp_seconds`` when one succeeds.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

# kube-proxy's buckets: 1 ms doubling fifteen times
BUCKETS = tuple(0.001 * 2**i for i in range(15))

SYNC_DURATION = Histogram(
    "kubeproxy_sync_proxy_rules_duration_seconds",
    "SyncProxyRules latency in seconds",
    buckets=BUCKETS,
)
LAST_SYNC = Gauge(
    "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
    "The last time proxy rules were successfully synced",
)

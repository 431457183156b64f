"""CPU and memory of the Docker runtime's containers, from the engine's stats.

``GET /containers/{id}/stats?stream=false&one-shot=true`` (API 1.41+)
answers at once with one reading; without ``one-shot`` the engine waits
for a second sample to fill ``precpu_stats``, one to two seconds a
container, which the node agent does not need (it keeps its own previous
reading). The numbers are the container's cgroup's, as cAdvisor reads them:

- CPU: ``cpu_stats.cpu_usage.total_usage``, nanoseconds;
- memory: ``memory_stats.usage``; working set = usage minus the inactive
  file pages (``stats.total_inactive_file`` on cgroup v1,
  ``stats.inactive_file`` on v2, the rule ``docker stats`` and cAdvisor
  share); RSS ``stats.total_rss`` (v1) or ``stats.anon`` (v2).

The reading's time is the engine's ``read`` stamp. The pod and container
names come from the labels of the engine's container list (``dockerspec``),
so no inspect is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.api.timestamps import parse_time
from orchestrator.kubelet.runtimes.base import ContainerUsage, ResourceUsage
from orchestrator.kubelet.runtimes.dockerspec import (
    ID_SCHEME,
    LABEL_CONTAINER_NAME,
    LABEL_NAMESPACE,
    LABEL_POD_NAME,
    LABEL_POD_UID,
)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def usage_from_stats(doc: dict[str, Any], fallback_ns: int) -> ResourceUsage:
    """One reading from the engine's stats document."""
    read = parse_time(doc.get("read"))
    time_ns = int(read.timestamp() * 1e9) if read is not None and read.year > 1 else fallback_ns
    cpu = _int(((doc.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage"))
    memory = doc.get("memory_stats") or {}
    stats = memory.get("stats") or {}
    usage = _int(memory.get("usage"))
    inactive = _int(stats.get("total_inactive_file", stats.get("inactive_file"))) or 0
    rss = _int(stats.get("total_rss", stats.get("anon")))
    working_set = max(0, usage - inactive) if usage is not None else None
    return ResourceUsage(time_ns, cpu, working_set, usage, rss)


def container_usage(entry: dict[str, Any], doc: dict[str, Any], now_ns: int) -> ContainerUsage:
    """A reading of the listed container ``entry`` (the engine's list item) from ``doc``."""
    labels = entry.get("Labels") or {}
    created = entry.get("Created")
    return ContainerUsage(
        container_id=ID_SCHEME + str(entry["Id"]),
        pod_uid=labels.get(LABEL_POD_UID, ""),
        namespace=labels.get(LABEL_NAMESPACE, ""),
        pod_name=labels.get(LABEL_POD_NAME, ""),
        name=labels.get(LABEL_CONTAINER_NAME, ""),
        started_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
        usage=usage_from_stats(doc, now_ns),
    )

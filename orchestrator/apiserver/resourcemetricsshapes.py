"""NodeMetrics and PodMetrics objects from node Summaries, in metrics-server's JSON.

Pure functions, tested with tables: a Summary (``orchestrator.kubelet.
statssummary``) and the Node or Pod it belongs to go in, a
``metrics.k8s.io/v1beta1`` object comes out:

- ``usage.cpu`` is the rate of the last two readings as a quantity in
  Kubernetes' canonical form (``1003541n``, ``250m``, ``2``), ``usage.memory``
  the working set (``204800Ki``, ``200Mi``, or plain bytes), as
  metrics-server gives them;
- ``timestamp`` is the newest reading's time, ``window`` the time between
  the two readings the rate came from, as a Go duration (``10.003s``);
- ``metadata`` carries the name (and namespace), the object's labels and a
  ``creationTimestamp`` of now (metrics are made on request).

Something without a rate yet (a container read once) has no metrics: the
caller leaves it out of lists and answers 404 for it, as metrics-server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.timestamps import rfc3339

API_VERSION = "metrics.k8s.io/v1beta1"
WINDOW_FIELD = "usageWindowNanoSeconds"  # ours, in the Summary's cpu (see statssummary)


def cpu_quantity(nanocores: int) -> str:
    """Nanocores as Kubernetes writes a decimal quantity: the largest exact suffix."""
    for divisor, suffix in ((1_000_000_000, ""), (1_000_000, "m"), (1_000, "u")):
        if nanocores % divisor == 0:
            return f"{nanocores // divisor}{suffix}"
    return f"{nanocores}n"


def memory_quantity(size: int) -> str:
    """Bytes as Kubernetes writes a binary quantity (``204800Ki``; ``1500`` stays bytes)."""
    if size == 0:
        return "0"
    for power, suffix in ((5, "Pi"), (4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
        if size % (1024**power) == 0:
            return f"{size // 1024**power}{suffix}"
    return str(size)


def go_duration(ns: int) -> str:
    """A window as Go's ``time.Duration.String`` writes it, to the millisecond."""
    ms = max(0, round(ns / 1_000_000))
    minutes, ms_left = divmod(ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    seconds = f"{ms_left // 1000}.{ms_left % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{minutes}m{seconds}"
    return seconds


def _usage(cpu: dict[str, Any], memory: dict[str, Any]) -> dict[str, str] | None:
    nanocores, working_set = cpu.get("usageNanoCores"), memory.get("workingSetBytes")
    if not isinstance(nanocores, int) or not isinstance(working_set, int):
        return None
    return {"cpu": cpu_quantity(nanocores), "memory": memory_quantity(working_set)}


def _meta(obj: Obj, now: datetime) -> dict[str, Any]:
    meta = metadata_of(obj)
    out: dict[str, Any] = {"name": meta.get("name", "")}
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    out["creationTimestamp"] = rfc3339(now)
    out["labels"] = dict(meta.get("labels") or {})
    return out


def node_metrics(node: Obj, summary: dict[str, Any], now: datetime | None = None) -> Obj | None:
    """The NodeMetrics of ``node`` from its Summary; None when it has no rate yet."""
    stats = summary.get("node") or {}
    cpu, memory = stats.get("cpu") or {}, stats.get("memory") or {}
    usage = _usage(cpu, memory)
    if usage is None:
        return None
    return {
        "kind": "NodeMetrics",
        "apiVersion": API_VERSION,
        "metadata": _meta(node, now or datetime.now(UTC)),
        "timestamp": cpu.get("time", ""),
        "window": go_duration(int(cpu.get(WINDOW_FIELD) or 0)),
        "usage": usage,
    }


def pod_stats(summary: dict[str, Any], uid: str, namespace: str, name: str) -> dict[str, Any]:
    """The pod's entry of a Summary ({} if none): by uid (a pod made again under the same
    name is another pod), by namespace and name when the pod has no uid."""
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        same = (
            ref.get("uid") == uid
            if uid
            else (ref.get("namespace"), ref.get("name"))
            == (
                namespace,
                name,
            )
        )
        if same:
            return dict(pod)
    return {}


def pod_metrics(pod: Obj, stats: dict[str, Any], now: datetime | None = None) -> Obj | None:
    """The PodMetrics of ``pod`` from its Summary entry; None unless every container has one."""
    containers = []
    times: list[str] = []
    window = 0
    for c in stats.get("containers") or []:
        cpu, memory = c.get("cpu") or {}, c.get("memory") or {}
        usage = _usage(cpu, memory)
        if usage is None:
            return None  # metrics-server leaves out a pod with a container it cannot rate
        containers.append({"name": c.get("name", ""), "usage": usage})
        times.append(str(cpu.get("time", "")))
        window = max(window, int(cpu.get(WINDOW_FIELD) or 0))
    if not containers:
        return None
    return {
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": _meta(pod, now or datetime.now(UTC)),
        "timestamp": max(times),
        "window": go_duration(window),
        "containers": containers,
    }

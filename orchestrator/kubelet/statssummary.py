"""The kubelet's two views of the stats cache: the Summary API and ``/metrics/resource``.

Pure functions over a ``Snapshot`` (what the sampler last read), so that
the shapes are tested without a runtime:

- ``summary(snapshot)``: ``GET /stats/summary``, the kubelet's ``Summary``
  (``node{nodeName, startTime, cpu, memory}``, ``pods[{podRef, startTime,
  containers[{name, startTime, cpu, memory}], cpu, memory}]``), CPU as
  ``time``/``usageNanoCores``/``usageCoreNanoSeconds``, memory as
  ``time``/``availableBytes``/``usageBytes``/``workingSetBytes``/
  ``rssBytes``. A pod's figures are the sum of its containers'. A figure
  that cannot be measured is left out, as the kubelet does. One field is
  ours: ``cpu.usageWindowNanoSeconds``, the time between the two readings
  the rate came from, which metrics-server reports as ``window`` and the
  Summary does not carry (JSON readers skip a field they do not know).
- ``resource_metrics(snapshot)``: ``GET /metrics/resource`` in Prometheus'
  text format with the kubelet's names, each sample with the time of its
  reading in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.api.timestamps import rfc3339
from orchestrator.kubelet.runtimes.base import ContainerUsage
from orchestrator.kubelet.stats import Rated

WINDOW_FIELD = "usageWindowNanoSeconds"


@dataclass(frozen=True)
class Snapshot:
    """What the sampler read last: the node and every running container with its rate."""

    node_name: str
    node_start: datetime
    memory_capacity: int  # bytes: availableBytes = capacity - working set
    node: Rated | None = None
    containers: tuple[tuple[ContainerUsage, Rated], ...] = field(default=())
    scrape_errors: int = 0  # 1 when the last pass failed to read the runtime


def _time(ns: int) -> str:
    return rfc3339(datetime.fromtimestamp(ns / 1e9, UTC))


def _cpu(rated: Rated) -> dict[str, Any]:
    usage = rated.latest
    out: dict[str, Any] = {"time": _time(usage.time_ns)}
    if rated.nano_cores is not None:
        out["usageNanoCores"] = rated.nano_cores
        out[WINDOW_FIELD] = rated.window_ns
    if usage.cpu_ns is not None:
        out["usageCoreNanoSeconds"] = usage.cpu_ns
    return out


def _memory(rated: Rated, capacity: int | None = None) -> dict[str, Any]:
    usage = rated.latest
    out: dict[str, Any] = {"time": _time(usage.time_ns)}
    if capacity and usage.memory_working_set is not None:
        out["availableBytes"] = max(0, capacity - usage.memory_working_set)
    for key, value in (
        ("usageBytes", usage.memory_usage),
        ("workingSetBytes", usage.memory_working_set),
        ("rssBytes", usage.memory_rss),
    ):
        if value is not None:
            out[key] = value
    return out


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if key == "time":
            total["time"] = max(total.get("time", ""), value)
        elif key == WINDOW_FIELD:
            total[key] = max(total.get(key, 0), value)
        else:
            total[key] = total.get(key, 0) + value


def _start(c: ContainerUsage) -> str | None:
    return rfc3339(c.started_at) if c.started_at is not None else None


def summary(snapshot: Snapshot) -> dict[str, Any]:
    """The kubelet's Summary of ``snapshot``."""
    node: dict[str, Any] = {
        "nodeName": snapshot.node_name,
        "startTime": rfc3339(snapshot.node_start),
    }
    if snapshot.node is not None:
        node["cpu"] = _cpu(snapshot.node)
        node["memory"] = _memory(snapshot.node, snapshot.memory_capacity)
    pods: dict[str, dict[str, Any]] = {}
    for c, rated in sorted(snapshot.containers, key=lambda cr: (cr[0].pod_uid, cr[0].name)):
        pod = pods.setdefault(
            c.pod_uid,
            {
                "podRef": {"name": c.pod_name, "namespace": c.namespace, "uid": c.pod_uid},
                "containers": [],
                "cpu": {},
                "memory": {},
            },
        )
        entry: dict[str, Any] = {"name": c.name, "cpu": _cpu(rated), "memory": _memory(rated)}
        started = _start(c)
        if started:
            entry["startTime"] = started
            pod["startTime"] = min(pod.get("startTime", started), started)
        pod["containers"].append(entry)
        _add(pod["cpu"], entry["cpu"])
        _add(pod["memory"], entry["memory"])
    return {"node": node, "pods": list(pods.values())}


# -- /metrics/resource -----------------------------------------------------------------------

_HELP = {
    "container_cpu_usage_seconds_total": "Cumulative cpu time consumed by the container in "
    "core-seconds",
    "container_memory_working_set_bytes": "Current working set of the container in bytes",
    "container_start_time_seconds": "Start time of the container since unix epoch in seconds",
    "node_cpu_usage_seconds_total": "Cumulative cpu time consumed by the node in core-seconds",
    "node_memory_working_set_bytes": "Current working set of the node in bytes",
    "pod_cpu_usage_seconds_total": "Cumulative cpu time consumed by the pod in core-seconds",
    "pod_memory_working_set_bytes": "Current working set of the pod in bytes",
    "scrape_error": "1 if there was an error while getting container metrics, 0 otherwise",
}
_TYPE = {name: ("counter" if name.endswith("_total") else "gauge") for name in _HELP}


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs
    )
    return "{" + body + "}" if body else ""


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else f"{value:.0f}"


def resource_metrics(snapshot: Snapshot) -> str:
    """``/metrics/resource`` in Prometheus text format 0.0.4."""
    samples: dict[str, list[str]] = {name: [] for name in _HELP}

    def add(name: str, labels: list[tuple[str, str]], value: float, time_ns: int | None) -> None:
        stamp = f" {time_ns // 1_000_000}" if time_ns is not None else ""
        samples[name].append(f"{name}{_labels(labels)} {_number(value)}{stamp}")

    if snapshot.node is not None:
        usage = snapshot.node.latest
        if usage.cpu_ns is not None:
            add("node_cpu_usage_seconds_total", [], usage.cpu_ns / 1e9, usage.time_ns)
        if usage.memory_working_set is not None:
            add("node_memory_working_set_bytes", [], usage.memory_working_set, usage.time_ns)
    pods: dict[tuple[str, str], list[Rated]] = {}
    for c, rated in sorted(snapshot.containers, key=lambda cr: (cr[0].namespace, cr[0].pod_name)):
        labels = [("container", c.name), ("namespace", c.namespace), ("pod", c.pod_name)]
        usage = rated.latest
        if usage.cpu_ns is not None:
            add("container_cpu_usage_seconds_total", labels, usage.cpu_ns / 1e9, usage.time_ns)
        if usage.memory_working_set is not None:
            add(
                "container_memory_working_set_bytes",
                labels,
                usage.memory_working_set,
                usage.time_ns,
            )
        if c.started_at is not None:
            add("container_start_time_seconds", labels, c.started_at.timestamp(), None)
        pods.setdefault((c.namespace, c.pod_name), []).append(rated)
    for (namespace, pod), rateds in pods.items():
        labels = [("namespace", namespace), ("pod", pod)]
        newest = max(r.latest.time_ns for r in rateds)
        cpu = [r.latest.cpu_ns for r in rateds if r.latest.cpu_ns is not None]
        memory = [r.latest.memory_working_set for r in rateds]
        if cpu:
            add("pod_cpu_usage_seconds_total", labels, sum(cpu) / 1e9, newest)
        if all(m is not None for m in memory):
            add("pod_memory_working_set_bytes", labels, sum(m or 0 for m in memory), newest)
    add("scrape_error", [], snapshot.scrape_errors, None)
    lines: list[str] = []
    for name, found in sorted(samples.items()):
        if found:
            lines += [f"# HELP {name} [STABLE] {_HELP[name]}", f"# TYPE {name} {_TYPE[name]}"]
            lines += found
    return "\n".join(lines) + "\n"

"""The node agent's stats math and shapes: rates from two readings, the Summary, /metrics/resource,
and readings of real processes on the process runtime's readers (/proc, the node)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from orchestrator.kubelet.runtimes.base import ContainerUsage, ResourceUsage
from orchestrator.kubelet.runtimes.dockerstats import usage_from_stats
from orchestrator.kubelet.runtimes.processstats import cgroup_usage, group_usage, scan_proc
from orchestrator.kubelet.stats import Rated, StatsCache, cpu_rate
from orchestrator.kubelet.statsnode import node_memory, parse_meminfo, parse_proc_stat
from orchestrator.kubelet.statssummary import Snapshot, resource_metrics, summary

S = 1_000_000_000
T0 = 1_800_000_000 * S


def reading(at: float, cpu_s: float | None, ws: int | None = 100) -> ResourceUsage:
    return ResourceUsage(
        time_ns=T0 + int(at * S),
        cpu_ns=None if cpu_s is None else int(cpu_s * S),
        memory_working_set=ws,
        memory_usage=ws,
        memory_rss=ws,
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (reading(0, 5), reading(10, 15), (S, 10 * S)),  # one core for 10 s
        (reading(0, 5), reading(2, 5.5), (S // 4, 2 * S)),  # a quarter core
        (reading(0, 5), reading(10, 1), None),  # the counter went back: restarted
        (reading(0, 5), reading(0, 6), None),  # no time passed
        (reading(0, None), reading(10, 6), None),  # not measurable
    ],
)
def test_cpu_rate_is_the_cumulative_difference_over_the_time_between(
    before: ResourceUsage, after: ResourceUsage, expected: tuple[int, int] | None
) -> None:
    assert cpu_rate(before, after) == expected


def test_cache_rates_from_the_last_two_readings_and_forgets_gone_keys() -> None:
    cache = StatsCache()
    cache.record("c1", reading(0, 1))
    first = cache.rated("c1")
    assert first is not None and first.nano_cores is None  # one reading: no rate yet
    cache.record("c1", reading(1, 1.5))
    cache.record("c1", reading(1, 9))  # the same reading time again: ignored
    cache.record("c1", reading(3, 2.5))
    rated = cache.rated("c1")
    assert rated is not None and (rated.nano_cores, rated.window_ns) == (S // 2, 2 * S)
    cache.keep_only({"other"})
    assert cache.rated("c1") is None


def usage(pod: str, name: str, cpu: int, at: float = 10) -> tuple[ContainerUsage, Rated]:
    c = ContainerUsage(
        container_id=f"process://{pod}/{name}",
        pod_uid=f"uid-{pod}",
        namespace="default",
        pod_name=pod,
        name=name,
        started_at=datetime(2027, 1, 15, 8, 0, tzinfo=UTC),
        usage=reading(at, 50, ws=200 * 1024 * 1024),
    )
    return c, Rated(c.usage, cpu, 10 * S)


def snapshot() -> Snapshot:
    return Snapshot(
        node_name="n1",
        node_start=datetime(2027, 1, 1, tzinfo=UTC),
        memory_capacity=8 * 1024**3,
        node=Rated(reading(10, 1000, ws=1024**3), 1_500_000_000, 10 * S),
        containers=(usage("web", "app", 600_000_000), usage("web", "side", 400_000_000)),
    )


def test_summary_has_the_kubelets_shape_and_a_pod_sums_its_containers() -> None:
    body = summary(snapshot())
    node = body["node"]
    assert node["nodeName"] == "n1" and node["startTime"] == "2027-01-01T00:00:00Z"
    assert node["cpu"]["usageNanoCores"] == 1_500_000_000
    assert node["cpu"]["usageCoreNanoSeconds"] == 1000 * S
    assert node["memory"]["workingSetBytes"] == 1024**3
    assert node["memory"]["availableBytes"] == 7 * 1024**3
    (pod,) = body["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "default", "uid": "uid-web"}
    assert [c["name"] for c in pod["containers"]] == ["app", "side"]
    assert pod["containers"][0]["startTime"] == "2027-01-15T08:00:00Z"
    assert pod["cpu"]["usageNanoCores"] == 1_000_000_000
    assert pod["cpu"]["usageWindowNanoSeconds"] == 10 * S
    assert pod["memory"]["workingSetBytes"] == 400 * 1024 * 1024
    assert pod["cpu"]["time"] == pod["containers"][0]["cpu"]["time"]


def test_resource_metrics_are_prometheus_text_with_the_kubelets_names_and_times() -> None:
    text = resource_metrics(snapshot())
    stamp = (T0 + 10 * S) // 1_000_000
    assert "# TYPE container_cpu_usage_seconds_total counter" in text
    app = 'container="app",namespace="default",pod="web"'
    assert f"container_cpu_usage_seconds_total{{{app}}} 50 {stamp}" in text
    assert (
        f'pod_memory_working_set_bytes{{namespace="default",pod="web"}} {400 * 1024 * 1024} {stamp}'
        in text
    )
    assert f"node_cpu_usage_seconds_total 1000 {stamp}" in text
    assert "container_start_time_seconds{" in text
    assert text.endswith("scrape_error 0\n")


def test_engine_stats_give_cumulative_cpu_and_working_set_without_inactive_file() -> None:
    doc = {
        "read": "2027-01-15T08:00:00.123456789Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 7_000_000_000}},
        "memory_stats": {"usage": 300, "stats": {"total_inactive_file": 100, "total_rss": 150}},
    }
    got = usage_from_stats(doc, 0)
    assert (got.cpu_ns, got.memory_working_set, got.memory_usage, got.memory_rss) == (
        7_000_000_000,
        200,
        300,
        150,
    )
    assert got.time_ns // 1000 == int(datetime(2027, 1, 15, 8, 0, 0, 123456, UTC).timestamp() * 1e6)
    v2 = usage_from_stats({"memory_stats": {"usage": 50, "stats": {"inactive_file": 10}}}, 42)
    assert (v2.time_ns, v2.memory_working_set, v2.cpu_ns) == (42, 40, None)


def test_node_readings_come_from_proc_stat_and_meminfo() -> None:
    busy, boot = parse_proc_stat("cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 1 2 3\nbtime 1700000000\n")
    ticks = os.sysconf("SC_CLK_TCK")
    assert busy == (100 + 5 + 50 + 1 + 2 + 3) * (S // ticks) and boot == 1_700_000_000
    info = parse_meminfo(
        "MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 500 kB\nInactive(file): 300 kB\n"
        "AnonPages: 100 kB\nHugePages_Total: 0\n"
    )
    assert node_memory(info) == (800 * 1024, 500 * 1024, 500 * 1024, 100 * 1024)


def test_a_cgroup_v2_reading_subtracts_inactive_file(tmp_path) -> None:
    (tmp_path / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 1\n")
    (tmp_path / "memory.current").write_text("1000\n")
    (tmp_path / "memory.stat").write_text("anon 600\ninactive_file 300\n")
    got = cgroup_usage([str(tmp_path)], 7)
    assert (got.cpu_ns, got.memory_working_set, got.memory_usage, got.memory_rss) == (
        2_500_000_000,
        700,
        1000,
        600,
    )


def test_a_process_group_is_measured_from_proc_as_the_kernel_accounts_it() -> None:
    """The group's CPU time matches what the kernel reports when it is reaped (wait4's
    rusage), and its memory holds what it touched; the rate is not asserted near one core
    here, as other work shares this machine (the e2e test prints the figure)."""
    script = "b = b'x' * (64 * 1024 * 1024)\nwhile True: pass"
    child = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        first = group_usage(scan_proc(), child.pid, child.pid, time.time_ns())
        time.sleep(1.0)  # the interval the rate is measured over, not a wait for a condition
        second = group_usage(scan_proc(), child.pid, child.pid, time.time_ns())
        os.kill(child.pid, signal.SIGSTOP)  # no more CPU time between this reading and wait4
        stopped = group_usage(scan_proc(), child.pid, child.pid, time.time_ns())
    finally:
        child.kill()
    _, _, rusage = os.wait4(child.pid, 0)
    child.returncode = -9
    kernel_ns = int((rusage.ru_utime + rusage.ru_stime) * S)
    assert stopped.cpu_ns is not None and abs(stopped.cpu_ns - kernel_ns) <= 0.05 * S
    rate = cpu_rate(first, second)
    assert rate is not None and 0 < rate[0] <= 1.1 * S, rate
    assert second.memory_working_set is not None
    assert second.memory_working_set > 64 * 1024 * 1024

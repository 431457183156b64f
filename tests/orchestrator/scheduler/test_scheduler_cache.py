"""The scheduler cache counts bound and assumed pods against their nodes."""

from __future__ import annotations

import copy

from scheduler_objects import make_node, make_pod

from orchestrator.scheduler.cache import SchedulerCache
from orchestrator.scheduler.podinfo import pod_info


def used_cpu(cache: SchedulerCache, node: str) -> int:
    info = cache.node(node)
    assert info is not None
    return info.requested.milli_cpu


def test_assumed_pod_holds_room_until_the_watch_confirms_it() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("n"))
    pending = make_pod("p", cpu="1", owner="rs")
    cache.assume(pod_info(pending), "n")
    assert used_cpu(cache, "n") == 1000 and cache.is_assumed("uid-p")
    assert cache.siblings("uid-rs", "n") == 1
    # A lagging watch still shows the pod unbound: the assumption stays.
    assert not cache.observe_pod(pending)
    assert used_cpu(cache, "n") == 1000
    bound = copy.deepcopy(pending)
    bound["spec"]["nodeName"] = "n"
    cache.observe_pod(bound)
    assert not cache.is_assumed("uid-p")
    assert used_cpu(cache, "n") == 1000 and cache.node("n").pod_count == 1  # type: ignore[union-attr]


def test_forgetting_a_failed_binding_frees_the_room() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("n"))
    cache.assume(pod_info(make_pod("p", cpu="1", owner="rs")), "n")
    cache.forget("uid-p")
    assert used_cpu(cache, "n") == 0
    assert cache.siblings("uid-rs", "n") == 0


def test_finished_and_deleted_pods_free_their_room() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("n"))
    done = make_pod("done", cpu="1", node="n")
    cache.observe_pod(make_pod("running", cpu="2", node="n"))
    cache.observe_pod(done)
    assert used_cpu(cache, "n") == 3000
    finished = copy.deepcopy(done)
    finished["status"] = {"phase": "Succeeded"}
    assert cache.observe_pod(finished)
    assert cache.remove_pod("uid-running")
    assert used_cpu(cache, "n") == 0


def test_pods_bound_before_their_node_is_seen_count_once_it_appears() -> None:
    cache = SchedulerCache()
    cache.observe_pod(make_pod("early", cpu="1", node="late"))
    assert cache.nodes() == []
    cache.set_node(make_node("late"))
    assert used_cpu(cache, "late") == 1000


def test_host_ports_are_released_only_when_no_pod_holds_them() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("n"))
    port = [{"containerPort": 80, "hostPort": 80}]
    cache.observe_pod(make_pod("a", node="n", ports=port))
    cache.observe_pod(make_pod("b", node="n", ports=port))
    cache.remove_pod("uid-a")
    assert cache.node("n").host_ports == {("0.0.0.0", "TCP", 80)}  # type: ignore[union-attr]
    cache.remove_pod("uid-b")
    assert cache.node("n").host_ports == frozenset()  # type: ignore[union-attr]


def test_only_changes_the_filters_see_count_as_node_changes() -> None:
    cache = SchedulerCache()
    node = make_node("n")
    assert cache.set_node(node)
    heartbeat = copy.deepcopy(node)
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2024-01-01T00:00:00Z"
    assert not cache.set_node(heartbeat)
    cordoned = copy.deepcopy(node)
    cordoned["spec"]["unschedulable"] = True
    assert cache.set_node(cordoned)

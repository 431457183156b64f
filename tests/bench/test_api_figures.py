"""bench/api's figures: custom-resource creates are judged against ConfigMap creates."""

from __future__ import annotations

import argparse

from bench.api import figures
from bench.stats import Latency


def latency(rate: float, p50: float = 5.0, p99: float = 10.0) -> Latency:
    return Latency(count=int(rate * 5), rate=rate, p50_ms=p50, p99_ms=p99)


def results(configmaps: float, custom: float) -> dict:
    return {
        "create": latency(configmaps),
        "cr_create": latency(custom, p50=20.0, p99=40.0),
        "authz_create": latency(configmaps * 0.98),
        "secrets": {
            "off": latency(configmaps),
            "on": latency(configmaps * 0.95),
            "both": latency(configmaps * 0.93),
        },
        "get": latency(5000.0),
        "update": latency(configmaps * 0.8),
        "watch": latency(100.0),
        "list": {"count": 1000, "median_s": 0.03},
        "wire": {
            "configmap_json": latency(configmaps),
            "configmap_pb": latency(configmaps * 0.9),
            "deployment_json": latency(configmaps / 2),
            "deployment_pb": latency(configmaps * 0.4),
        },
    }


def test_custom_resource_creates_meet_their_target_at_70_percent_of_configmap_creates() -> None:
    anchor = {"put": latency(4000.0), "get": latency(5000.0)}
    args = argparse.Namespace(clients=16, list_size=1000)
    out = figures(anchor, {"sqlite": results(2000.0, 1500.0), "etcd": results(1000.0, 500.0)}, args)
    by_name = {f.name: f for f in out}
    sqlite, etcd = by_name["sqlite: cr create/s"], by_name["etcd: cr create/s"]
    assert (sqlite.anchor, sqlite.target, sqlite.of_anchor) == (2000.0, 0.7, True)
    assert sqlite.anchor_name == "ConfigMap creates on the same store in the same run"
    assert (sqlite.met, etcd.met) == (True, False)
    assert by_name["sqlite: cr create p99 (16 clients)"].value == 40.0
    assert by_name["sqlite: create/s"].anchor_name.startswith("etcd's own HTTP gateway")


def test_protobuf_creates_are_reported_against_json_creates_of_the_same_kind() -> None:
    anchor = {"put": latency(4000.0), "get": latency(5000.0)}
    args = argparse.Namespace(clients=16, list_size=1000)
    out = figures(anchor, {"sqlite": results(2000.0, 1500.0)}, args)
    by_name = {f.name: f for f in out}
    deployments = by_name["sqlite: deployment protobuf create/s"]
    assert (deployments.value, deployments.anchor, deployments.of_anchor) == (800.0, 1000.0, True)
    assert deployments.anchor_name == "deployment JSON creates in the same run"
    assert by_name["sqlite: configmap protobuf create/s"].anchor == 2000.0


def test_updates_are_reported_against_the_stores_own_puts() -> None:
    anchor = {"put": latency(4000.0), "get": latency(5000.0)}
    args = argparse.Namespace(clients=16, list_size=1000)
    out = figures(anchor, {"sqlite": results(2000.0, 1500.0)}, args)
    updates = {f.name: f for f in out}["sqlite: update/s"]
    assert (updates.value, updates.anchor) == (1600.0, 4000.0)

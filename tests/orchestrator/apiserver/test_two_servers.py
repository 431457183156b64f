"""Two API servers on one etcd behave as one cluster."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, WatchStream, start_api, wipe_etcd

pytestmark = pytest.mark.etcd

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SERVICES = "/api/v1/namespaces/default/services"


@pytest.fixture
def pair(tmp_path: Path, etcd_endpoint: str) -> Iterator[tuple[RunningAPI, RunningAPI]]:
    wipe_etcd(etcd_endpoint)
    first = start_api(tmp_path / "one", f"etcd://{etcd_endpoint}")
    try:
        second = start_api(tmp_path / "two", f"etcd://{etcd_endpoint}")
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_write_through_one_is_read_through_the_other(pair: tuple[RunningAPI, RunningAPI]) -> None:
    one, two = pair
    with one.http() as a, two.http() as b:
        created = a.post(CONFIGMAPS, json={"metadata": {"name": "cm"}, "data": {"k": "v"}})
        assert created.status_code == 201
        seen = b.get(f"{CONFIGMAPS}/cm")
        assert seen.status_code == 200
        assert seen.json() == created.json()
        stale = dict(created.json(), data={"k": "other"})
        assert b.put(f"{CONFIGMAPS}/cm", json=dict(stale, data={"k": "b"})).status_code == 200
        assert a.put(f"{CONFIGMAPS}/cm", json=stale).status_code == 409


def test_watch_on_one_sees_writes_through_the_other(pair: tuple[RunningAPI, RunningAPI]) -> None:
    one, two = pair
    with one.http() as a, two.http() as b:
        rv = a.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
        with WatchStream(a, CONFIGMAPS, {"resourceVersion": rv}) as w:
            b.post(CONFIGMAPS, json={"metadata": {"name": "x"}})
            b.patch(
                f"{CONFIGMAPS}/x",
                json={"data": {"a": "1"}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            b.delete(f"{CONFIGMAPS}/x")
            events = w.events(3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "x"),
        ("MODIFIED", "x"),
        ("DELETED", "x"),
    ]


def test_cluster_ips_are_never_shared(pair: tuple[RunningAPI, RunningAPI]) -> None:
    one, two = pair
    ips = []
    with one.http() as a, two.http() as b:
        for i in range(6):
            http = a if i % 2 else b
            svc = {"metadata": {"name": f"s{i}"}, "spec": {"ports": [{"port": 80}]}}
            r = http.post(SERVICES, json=svc)
            assert r.status_code == 201
            ips.append(r.json()["spec"]["clusterIP"])
        taken = {
            "metadata": {"name": "dup"},
            "spec": {"clusterIP": ips[0], "ports": [{"port": 80}]},
        }
        assert a.post(SERVICES, json=taken).status_code == 422
    assert len(set(ips)) == 6
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/16") for ip in ips)


def test_server_started_later_replays_older_history(tmp_path: Path, etcd_endpoint: str) -> None:
    wipe_etcd(etcd_endpoint)
    one = start_api(tmp_path / "one", f"etcd://{etcd_endpoint}")
    try:
        with one.http() as a:
            rv = a.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
            for name in ("x", "y"):
                a.post(CONFIGMAPS, json={"metadata": {"name": name}})
        two = start_api(tmp_path / "two", f"etcd://{etcd_endpoint}")
        try:
            with two.http() as b, WatchStream(b, CONFIGMAPS, {"resourceVersion": rv}) as w:
                first = w.events(2)
                with one.http() as a:
                    a.post(CONFIGMAPS, json={"metadata": {"name": "z"}})
                third = w.next()
        finally:
            two.stop()
    finally:
        one.stop()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in [*first, third]] == [
        ("ADDED", "x"),
        ("ADDED", "y"),
        ("ADDED", "z"),
    ]

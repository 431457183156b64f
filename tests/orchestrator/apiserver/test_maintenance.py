"""Housekeeping: events expire after their TTL; compaction keeps the last N revisions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.apiserver import RunningAPI, WatchStream, start_api
from support.wait import wait_until

from orchestrator.api.resources import BUILTIN_TYPES
from orchestrator.apiserver.allocators import Allocators, AllocatorSettings
from orchestrator.apiserver.maintenance import MaintenanceSettings, expire_events_once
from orchestrator.apiserver.registry import Registry

EVENTS = "/api/v1/namespaces/default/events"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def event(name: str, last_seen: datetime | None) -> dict:
    ev = {
        "metadata": {"name": name},
        "reason": "Tested",
        "message": "m",
        "type": "Normal",
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p"},
    }
    if last_seen is not None:
        stamp = last_seen.strftime("%Y-%m-%dT%H:%M:%SZ")
        ev.update(firstTimestamp=stamp, lastTimestamp=stamp, count=1)
    return ev


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    wait_until(check, timeout, "condition not met in time")


def event_names(api: RunningAPI) -> set[str]:
    with api.http() as http:
        return {e["metadata"]["name"] for e in http.get(EVENTS).json()["items"]}


def run_on_server(api: RunningAPI, coro):  # type: ignore[no-untyped-def]
    return asyncio.run_coroutine_threadsafe(coro, api.loop).result(30)


def test_expire_events_once_deletes_only_old_events(api: RunningAPI) -> None:
    now = datetime.now(UTC)
    with api.http() as http:
        for name, seen in (
            ("old", now - timedelta(hours=2)),
            ("fresh", now - timedelta(minutes=5)),
            ("unstamped", None),
        ):
            assert http.post(EVENTS, json=event(name, seen)).status_code == 201
    store = api.server.store
    assert store is not None
    registry = Registry(store, Allocators(store, AllocatorSettings()))
    expired = run_on_server(api, expire_events_once(registry, BUILTIN_TYPES, 3600))
    assert expired == 1
    assert event_names(api) == {"fresh", "unstamped"}


def test_expired_events_go_on_their_own(tmp_path: Path, store_spec: str) -> None:
    settings = MaintenanceSettings(event_ttl=60, event_sweep_interval=0.1)
    api = start_api(tmp_path / "api", store_spec, maintenance=settings)
    try:
        now = datetime.now(UTC)
        with api.http() as http:
            http.post(EVENTS, json=event("old", now - timedelta(minutes=2)))
            http.post(EVENTS, json=event("new", now))
        eventually(lambda: event_names(api) == {"new"})
    finally:
        api.stop()


def test_compaction_keeps_the_last_revisions(tmp_path: Path, store_spec: str) -> None:
    settings = MaintenanceSettings(
        compaction_interval=0.1, keep_revisions=5, event_sweep_interval=0.1
    )
    api = start_api(tmp_path / "api", store_spec, maintenance=settings)
    try:
        with api.http() as http:
            rvs = [
                http.post(CONFIGMAPS, json={"metadata": {"name": f"cm-{i}"}}).json()["metadata"][
                    "resourceVersion"
                ]
                for i in range(12)
            ]

            def first_event(rv: str) -> dict:
                with WatchStream(http, CONFIGMAPS, {"resourceVersion": rv}) as w:
                    return w.next()

            # cm-11 is the latest revision: keeping 5 keeps the changes after cm-6's.
            eventually(lambda: first_event(rvs[5])["type"] == "ERROR")
            assert first_event(rvs[0])["type"] == "ERROR"
            with WatchStream(
                http, CONFIGMAPS, {"resourceVersion": rvs[6], "timeoutSeconds": "1"}
            ) as w:
                replay = [w.next()["object"]["metadata"]["name"] for _ in range(5)]
    finally:
        api.stop()
    assert replay == ["cm-7", "cm-8", "cm-9", "cm-10", "cm-11"]

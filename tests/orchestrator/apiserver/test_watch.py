"""Watch streams: framing, replay, resume, selectors, bookmarks, timeouts and 410."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, WatchStream, start_api

from orchestrator.apiserver.maintenance import MaintenanceSettings
from orchestrator.apiserver.watch import WatchSettings

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def cm(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}, "data": {}}


def summary(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in events]


@pytest.mark.parametrize("flag", ["1", "true", "True"])
def test_watch_flag_spellings(sqlite_api: RunningAPI, flag: str) -> None:
    with sqlite_api.http() as http:
        http.post(CONFIGMAPS, json=cm("a"))
        with WatchStream(http, CONFIGMAPS, {"watch": flag}) as w:
            assert w.response.status_code == 200
            assert w.response.headers["content-type"].startswith("application/json")
            assert summary([w.next()]) == [("ADDED", "a")]


def test_watch_without_version_starts_with_existing_objects(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json=cm("a"))
        http.post(CONFIGMAPS, json=cm("b"))
        with WatchStream(http, CONFIGMAPS) as w:
            first = w.events(2)
            http.post(CONFIGMAPS, json=cm("c"))
            assert summary(first) == [("ADDED", "a"), ("ADDED", "b")]
            assert summary([w.next()]) == [("ADDED", "c")]
            assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in w.raw_lines)


def test_watch_from_zero_also_lists_first(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json=cm("a"))
        with WatchStream(http, CONFIGMAPS, {"resourceVersion": "0"}) as w:
            assert summary([w.next()]) == [("ADDED", "a")]


def test_modified_and_deleted_events(api: RunningAPI) -> None:
    with api.http() as http:
        rv = http.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
        with WatchStream(http, CONFIGMAPS, {"resourceVersion": rv}) as w:
            created = http.post(CONFIGMAPS, json=cm("a")).json()
            created["data"] = {"k": "v"}
            updated = http.put(f"{CONFIGMAPS}/a", json=created).json()
            deleted = http.delete(f"{CONFIGMAPS}/a").json()
            events = w.events(3)
    assert summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    assert events[1]["object"] == updated
    assert events[2]["object"]["data"] == {"k": "v"}
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    assert rvs[2] >= int(deleted["metadata"]["resourceVersion"])


def test_resume_misses_nothing_and_repeats_nothing(api: RunningAPI) -> None:
    with api.http() as http:
        for i in range(3):
            http.post(CONFIGMAPS, json=cm(f"old-{i}"))
        with WatchStream(http, CONFIGMAPS) as w:
            seen = w.events(3)
        last_rv = seen[-1]["object"]["metadata"]["resourceVersion"]
        listed_rv = http.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
        for i in range(5):
            http.post(CONFIGMAPS, json=cm(f"new-{i}"))
        http.delete(f"{CONFIGMAPS}/old-0")
        with WatchStream(
            http, CONFIGMAPS, {"resourceVersion": listed_rv, "timeoutSeconds": "1"}
        ) as w:
            resumed = []
            with pytest.raises(StopIteration):
                while True:
                    resumed.append(w.next())
    assert int(last_rv) <= int(listed_rv)
    assert summary(resumed) == [("ADDED", f"new-{i}") for i in range(5)] + [("DELETED", "old-0")]


def test_watch_of_one_namespace_ignores_others(api: RunningAPI) -> None:
    with api.http() as http:
        http.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
        rv = http.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
        with (
            WatchStream(http, CONFIGMAPS, {"resourceVersion": rv}) as w,
            WatchStream(http, "/api/v1/configmaps", {"resourceVersion": rv}) as everywhere,
        ):
            http.post("/api/v1/namespaces/other/configmaps", json=cm("elsewhere"))
            http.post(CONFIGMAPS, json=cm("here"))
            assert summary([w.next()]) == [("ADDED", "here")]
            assert summary(everywhere.events(2)) == [("ADDED", "elsewhere"), ("ADDED", "here")]


def test_label_selector_transitions(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json=cm("a", app="web"))
        with WatchStream(http, CONFIGMAPS, {"labelSelector": "app=web"}) as w:
            assert summary([w.next()]) == [("ADDED", "a")]
            http.post(CONFIGMAPS, json=cm("b", app="db"))
            http.patch(
                f"{CONFIGMAPS}/a",
                json={"metadata": {"labels": {"app": "db"}}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            http.patch(
                f"{CONFIGMAPS}/b",
                json={"metadata": {"labels": {"app": "web"}}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            http.patch(
                f"{CONFIGMAPS}/b",
                json={"data": {"x": "1"}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            events = w.events(3)
    assert summary(events) == [("DELETED", "a"), ("ADDED", "b"), ("MODIFIED", "b")]
    assert events[0]["object"]["metadata"]["labels"] == {"app": "db"}


def test_field_selector_on_watch(api: RunningAPI) -> None:
    with api.http() as http:
        with WatchStream(http, CONFIGMAPS, {"fieldSelector": "metadata.name=b"}) as w:
            http.post(CONFIGMAPS, json=cm("a"))
            http.post(CONFIGMAPS, json=cm("b"))
            assert summary([w.next()]) == [("ADDED", "b")]


def test_bookmarks_when_asked(tmp_path: Path, store_spec: str) -> None:
    api = start_api(tmp_path / "api", store_spec, watch=WatchSettings(bookmark_interval=0.2))
    try:
        with api.http() as http:
            created = http.post(CONFIGMAPS, json=cm("a")).json()
            rv = created["metadata"]["resourceVersion"]
            with WatchStream(
                http, CONFIGMAPS, {"resourceVersion": rv, "allowWatchBookmarks": "true"}
            ) as w:
                event = w.next()
            with WatchStream(
                http, CONFIGMAPS, {"resourceVersion": rv, "timeoutSeconds": "1"}
            ) as plain:
                with pytest.raises(StopIteration):
                    plain.next()
    finally:
        api.stop()
    assert event["type"] == "BOOKMARK"
    assert event["object"]["kind"] == "ConfigMap"
    assert int(event["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_timeout_seconds_ends_the_stream(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json=cm("a"))
        started = time.monotonic()
        with WatchStream(http, CONFIGMAPS, {"timeoutSeconds": "1"}) as w:
            assert summary([w.next()]) == [("ADDED", "a")]
            with pytest.raises(StopIteration):
                w.next()
        assert time.monotonic() - started < 8


def test_watch_as_table(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json=cm("a"))
        with WatchStream(http, CONFIGMAPS, headers={"Accept": TABLE}) as w:
            first = w.next()
            http.delete(f"{CONFIGMAPS}/a")
            second = w.next()
    for event, kind in ((first, "ADDED"), (second, "DELETED")):
        assert event["type"] == kind
        table = event["object"]
        assert table["kind"] == "Table"
        assert table["rows"][0]["cells"][0] == "a"
        assert table["rows"][0]["object"]["metadata"]["name"] == "a"


def test_compacted_version_answers_expired(tmp_path: Path, store_spec: str) -> None:
    settings = MaintenanceSettings(
        compaction_interval=0.1, keep_revisions=2, event_sweep_interval=0.1
    )
    api = start_api(tmp_path / "api", store_spec, maintenance=settings)
    try:
        with api.http() as http:
            old = http.post(CONFIGMAPS, json=cm("first")).json()["metadata"]["resourceVersion"]
            deadline = time.monotonic() + 10
            event = None
            i = 0
            while time.monotonic() < deadline:
                i += 1
                http.post(CONFIGMAPS, json=cm(f"more-{i}"))
                with WatchStream(
                    http, CONFIGMAPS, {"resourceVersion": old, "timeoutSeconds": "1"}
                ) as w:
                    event = w.next()
                if event["type"] == "ERROR":
                    break
    finally:
        api.stop()
    assert event is not None and event["type"] == "ERROR", event
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version")

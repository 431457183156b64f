"""Lists and watches by resourceVersion, as Kubernetes 1.33 answers them, on both stores.

Paged lists read every page at the first page's revision; a compacted token is
410 with a token to go on; a resourceVersion the store has not reached is
waited for, then 504; a malformed one is 400.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from support.apiserver import RunningAPI, start_api

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def _create(http: httpx.Client, name: str) -> int:
    r = http.post(CONFIGMAPS, json={"metadata": {"name": name}, "data": {"v": name}})
    assert r.status_code == 201, r.text
    return int(r.json()["metadata"]["resourceVersion"])


def _names(body: dict) -> list[str]:
    return [o["metadata"]["name"] for o in body["items"]]


def test_later_pages_see_the_store_as_of_the_first_page(api: RunningAPI) -> None:
    with api.http() as http:
        for name in ("a", "b", "c", "d"):
            _create(http, name)
        first = http.get(CONFIGMAPS, params={"limit": "2"}).json()
        assert _names(first) == ["a", "b"]
        listed_at = first["metadata"]["resourceVersion"]
        # After the first page: one deleted, one created, one changed.
        assert http.delete(f"{CONFIGMAPS}/c").status_code == 200
        _create(http, "bb")
        r = http.patch(
            f"{CONFIGMAPS}/d",
            json={"data": {"v": "changed"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200
        rest = http.get(
            CONFIGMAPS, params={"limit": "10", "continue": first["metadata"]["continue"]}
        ).json()
    assert _names(rest) == ["c", "d"]  # c still there, bb not yet, d as it was
    assert rest["metadata"]["resourceVersion"] == listed_at
    d = rest["items"][1]
    assert d["data"] == {"v": "d"}
    assert int(d["metadata"]["resourceVersion"]) <= int(listed_at)
    assert "continue" not in rest["metadata"]


def test_continue_token_has_kubernetes_shape(api: RunningAPI) -> None:
    with api.http() as http:
        for name in ("a", "b", "c"):
            _create(http, name)
        first = http.get(CONFIGMAPS, params={"limit": "1"}).json()
    token = first["metadata"]["continue"]
    doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert doc == {
        "v": "meta.k8s.io/v1",
        "rv": int(first["metadata"]["resourceVersion"]),
        "start": "a\x00",
    }


def test_compacted_continue_token_is_gone_with_a_token_to_go_on(api: RunningAPI) -> None:
    with api.http() as http:
        for name in ("a", "b", "c"):
            _create(http, name)
        first = http.get(CONFIGMAPS, params={"limit": "1"}).json()
        latest = _create(http, "d")
        _compact(api, latest)
        r = http.get(CONFIGMAPS, params={"continue": first["metadata"]["continue"]})
        assert r.status_code == 410, r.text
        status = r.json()
        assert status["reason"] == "Expired"
        assert status["message"].startswith(
            "The provided continue parameter is too old to display a consistent list result."
        )
        assert "may show up in the list." in status["message"]
        fresh = status["metadata"]["continue"]
        rest = http.get(CONFIGMAPS, params={"continue": fresh}).json()
    assert _names(rest) == ["b", "c", "d"]  # inconsistent by consent: d came later


def test_exact_list_at_a_compacted_revision_is_gone(api: RunningAPI) -> None:
    with api.http() as http:
        old = _create(http, "a")
        _compact(api, _create(http, "b"))
        r = http.get(
            CONFIGMAPS, params={"resourceVersion": str(old), "resourceVersionMatch": "Exact"}
        )
    assert r.status_code == 410
    assert r.json()["message"] == "The resourceVersion for the provided list is too old."


def test_exact_list_shows_the_state_at_that_revision(api: RunningAPI) -> None:
    with api.http() as http:
        at = _create(http, "a")
        _create(http, "b")
        r = http.get(
            CONFIGMAPS, params={"resourceVersion": str(at), "resourceVersionMatch": "Exact"}
        )
        assert r.status_code == 200, r.text
        assert _names(r.json()) == ["a"]
        assert r.json()["metadata"]["resourceVersion"] == str(at)


def test_list_from_a_future_resource_version_times_out_as_too_large(api: RunningAPI) -> None:
    with api.http() as http:
        current = _create(http, "a")
        future = current + 1000
        r = http.get(CONFIGMAPS, params={"resourceVersion": str(future)})
    assert r.status_code == 504, r.text
    status = r.json()
    assert status["reason"] == "Timeout"
    assert status["message"].startswith(f"Timeout: Too large resource version: {future}, current:")
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert status["details"]["retryAfterSeconds"] == 1
    assert r.headers["retry-after"] == "1"


def test_list_waits_for_a_resource_version_about_to_be_written(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        next_rv = _create(http, "a") + 1
        answer: dict[str, httpx.Response] = {}

        def list_ahead() -> None:
            with sqlite_api.http() as other:
                answer["r"] = other.get(CONFIGMAPS, params={"resourceVersion": str(next_rv)})

        waiter = threading.Thread(target=list_ahead)
        waiter.start()
        _create(http, "b")
        waiter.join(30)
    r = answer["r"]
    assert r.status_code == 200, r.text
    assert int(r.json()["metadata"]["resourceVersion"]) >= next_rv
    assert _names(r.json()) == ["a", "b"]


def test_watch_from_a_future_resource_version_waits_for_it(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        current = _create(http, "a")
        params = {"watch": "1", "resourceVersion": str(current + 1), "timeoutSeconds": "20"}
        with http.stream("GET", CONFIGMAPS, params=params) as stream:
            assert stream.status_code == 200
            _create(http, "b")
            _create(http, "c")
            lines = stream.iter_lines()
            event = json.loads(next(lines))
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "c")


@pytest.mark.parametrize("value", ["bogus", "-1", "1.5"])
def test_malformed_resource_version_is_bad_request(api: RunningAPI, value: str) -> None:
    with api.http() as http:
        for extra in ({}, {"watch": "1"}):
            r = http.get(CONFIGMAPS, params={"resourceVersion": value, **extra})
            assert r.status_code == 400, r.text
            assert r.json()["message"] == (
                f'invalid resource version: resourceVersion: Invalid value: "{value}": '
                f'strconv.ParseUint: parsing "{value}": invalid syntax'
            )


def test_continue_with_a_resource_version_is_bad_request(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        for name in ("a", "b"):
            _create(http, name)
        token = http.get(CONFIGMAPS, params={"limit": "1"}).json()["metadata"]["continue"]
        r = http.get(CONFIGMAPS, params={"continue": token, "resourceVersion": "5"})
        assert r.status_code == 400
        assert r.json()["message"] == (
            "specifying resource version is not allowed when using continue"
        )
        r = http.get(CONFIGMAPS, params={"continue": "not-a-token"})
        assert r.status_code == 400
        assert r.json()["message"].startswith("invalid continue token:")


def test_unsupported_resource_version_match_is_invalid(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        r = http.get(CONFIGMAPS, params={"resourceVersion": "1", "resourceVersionMatch": "Soon"})
    assert r.status_code == 422
    assert r.json()["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: '
        '"Soon": supported values: "Exact", "NotOlderThan"'
    )


def test_sqlite_lists_at_a_revision_after_reopening_an_old_file(tmp_path: Path) -> None:
    """A file written before ``prev_revision`` existed still pages consistently."""
    api = start_api(tmp_path / "api")
    try:
        with api.http() as http:
            for name in ("a", "b", "c"):
                _create(http, name)
    finally:
        api.stop()
    db = tmp_path / "api" / "state.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE log SET prev_revision = NULL")
    api = start_api(tmp_path / "api")
    try:
        with api.http() as http:
            first = http.get(CONFIGMAPS, params={"limit": "1"}).json()
            http.delete(f"{CONFIGMAPS}/b")
            rest = http.get(CONFIGMAPS, params={"continue": first["metadata"]["continue"]})
            assert _names(rest.json()) == ["b", "c"]
    finally:
        api.stop()


def _compact(api: RunningAPI, revision: int) -> None:
    """Compact the API server's store at ``revision``, as its maintenance loop would."""
    store = api.server.store
    assert store is not None
    asyncio.run_coroutine_threadsafe(store.compact(revision), api.loop).result(30)

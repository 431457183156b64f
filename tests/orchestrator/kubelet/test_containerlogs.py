"""Which container's log a node agent serves: the query and the attempts decide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.kubelet.containerlogs import (
    LogRequestError,
    find_pod_uid,
    parse_log_request,
    pick_container,
)
from orchestrator.kubelet.runtimes.base import ContainerState, Sandbox

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def attempt(n: int, name: str = "app", status: str = "exited") -> ContainerState:
    return ContainerState(id=f"process://c{n}", pod_uid="u", name=name, attempt=n, status=status)  # type: ignore[arg-type]


def request(**query: str):
    return parse_log_request("default", "web", "app", query, NOW)


def test_query_becomes_log_options() -> None:
    r = request(follow="true", tailLines="3", sinceSeconds="60", timestamps="1", limitBytes="10")
    assert r.options.follow and r.options.timestamps
    assert r.options.tail_lines == 3 and r.options.limit_bytes == 10
    assert r.options.since == NOW - timedelta(seconds=60)
    assert request(sinceTime="2026-01-01T11:00:00Z").options.since == NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"tailLines": "x"}, 'invalid integer for query parameter "tailLines"'),
        ({"tailLines": "-1"}, "tailLines must be at least 0"),
        ({"limitBytes": "0"}, "limitBytes must be at least 1"),
        ({"follow": "perhaps"}, 'invalid boolean for query parameter "follow"'),
        ({"sinceTime": "noon"}, "sinceTime must be an RFC 3339 time"),
        ({"sinceTime": "2026-01-01T00:00:00Z", "sinceSeconds": "1"}, "at most one of"),
    ],
)
def test_bad_query_is_refused_naming_the_parameter(query: dict[str, str], message: str) -> None:
    with pytest.raises(LogRequestError) as caught:
        request(**query)
    assert caught.value.status == 400
    assert message in caught.value.message


def test_current_is_the_highest_attempt_and_previous_the_one_before() -> None:
    attempts = [attempt(1, status="running"), attempt(0), attempt(0, name="other")]
    assert pick_container(request(), attempts).id == "process://c1"
    assert pick_container(request(previous="true"), attempts).id == "process://c0"


def test_a_container_id_hint_wins_over_the_attempt_order() -> None:
    attempts = [attempt(0), attempt(1), attempt(2, status="running")]
    hinted = request(previous="true", containerID="process://c1")
    assert pick_container(hinted, attempts).id == "process://c1"
    unknown = request(containerID="process://gone")
    assert pick_container(unknown, attempts).id == "process://c2"


def test_no_previous_and_no_container_are_refused_in_kubelet_words() -> None:
    with pytest.raises(LogRequestError) as caught:
        pick_container(request(previous="true"), [attempt(0, status="running")])
    assert caught.value.message == 'previous terminated container "app" in pod "web" not found'
    with pytest.raises(LogRequestError) as caught:
        pick_container(request(), [])
    assert caught.value.message == (
        'container "app" in pod "web" is waiting to start: ContainerCreating'
    )


def test_pod_uid_prefers_a_ready_sandbox() -> None:
    sandboxes = [
        Sandbox("s1", "old", "default", "web", "", ready=False),
        Sandbox("s2", "new", "default", "web", "10.0.0.2"),
        Sandbox("s3", "x", "other", "web", "10.0.0.3"),
    ]
    assert find_pod_uid(sandboxes, "default", "web") == "new"
    assert find_pod_uid(sandboxes, "default", "nope") is None

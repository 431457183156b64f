"""The API server's /metrics: who may read it, and the request, watch and store series."""

from __future__ import annotations

import threading

from prometheus_client.parser import text_string_to_metric_families
from support.apiserver import RunningAPI

from orchestrator.apiserver.auth import add_token


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_metrics_needs_a_token(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http(token="") as http:
        assert http.get("/metrics").status_code == 401


def test_metrics_refused_to_a_user_without_the_monitoring_right(sqlite_api: RunningAPI) -> None:
    token = add_token(sqlite_api.data_dir / "tokens.json", user="eve", groups=["team"])
    with sqlite_api.http(token) as http:
        response = http.get("/metrics")
    assert response.status_code == 403
    assert response.json()["message"] == 'forbidden: User "eve" cannot get path "/metrics"'


def test_monitoring_group_reads_request_counts_by_verb_resource_and_code(
    sqlite_api: RunningAPI,
) -> None:
    token = add_token(
        sqlite_api.data_dir / "tokens.json", user="prometheus", groups=["system:monitoring"]
    )
    with sqlite_api.http() as admin:
        admin.post(
            "/api/v1/namespaces/default/configmaps",
            json={"metadata": {"name": "m1"}, "data": {"a": "b"}},
        ).raise_for_status()
        assert admin.get("/api/v1/namespaces/default/configmaps/nope").status_code == 404
        admin.get("/api/v1/namespaces/default/configmaps").raise_for_status()
        admin.get("/apis/nothing.example/v1/unservedthings")
    with sqlite_api.http(token) as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    def count(**want: str) -> float:
        return sum(
            value
            for labels, value in samples["apiserver_request_total"]
            if all(labels.get(k) == v for k, v in want.items())
        )

    assert count(verb="POST", resource="configmaps", scope="namespace", code="201") >= 1
    assert count(verb="GET", resource="configmaps", scope="resource", code="404") >= 1
    assert count(verb="LIST", resource="configmaps", code="200", component="apiserver") >= 1
    assert count(resource="unservedthings") == 0  # unserved names never become label values
    assert count(resource="other", code="404") >= 1
    names = set(samples)
    for name in (
        "apiserver_request_duration_seconds_bucket",
        "apiserver_current_inflight_requests",
        "etcd_request_duration_seconds_bucket",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert name in names, name
    stored = [labels for labels, _ in samples["etcd_request_duration_seconds_count"]]
    assert {"operation": "create", "type": "configmaps"} in stored


def test_open_watches_are_counted_while_they_last(sqlite_api: RunningAPI) -> None:
    token = add_token(
        sqlite_api.data_dir / "tokens.json", user="prometheus", groups=["system:monitoring"]
    )
    opened = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        with (
            sqlite_api.http() as admin,
            admin.stream(
                "GET", "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=5"
            ) as response,
        ):
            opened.set()
            for _ in response.iter_bytes():
                if stop.is_set():
                    break

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        assert opened.wait(10)
        with sqlite_api.http() as admin:
            admin.post(
                "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "w1"}}
            ).raise_for_status()
        with sqlite_api.http(token) as http:
            samples = _samples(http.get("/metrics").text)
        watchers = dict(
            (labels["kind"], value) for labels, value in samples["apiserver_registered_watchers"]
        )
        assert watchers.get("ConfigMap", 0) >= 1
        running = [
            labels for labels, value in samples["apiserver_longrunning_requests"] if value >= 1
        ]
        assert {"verb": "WATCH", "resource": "configmaps"}.items() <= running[0].items()
    finally:
        stop.set()
        with sqlite_api.http() as admin:  # one more event: the reader sees stop and leaves
            admin.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "w2"}})
        thread.join(15)

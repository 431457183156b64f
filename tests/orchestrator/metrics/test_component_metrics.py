"""A component's /metrics port: the API server decides who reads it; work queue series move."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support.apiserver import RunningAPI

from orchestrator.apiserver.auth import add_token
from orchestrator.client.rest import APIClient
from orchestrator.client.workqueue import WorkQueue
from orchestrator.metrics.delegated import DelegatedAuth, DelegatedSettings
from orchestrator.metrics.server import MetricsServer, MetricsServerSettings


def _value(text: str, metric: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


async def _serve(api: RunningAPI, tmp_path: Path) -> tuple[MetricsServer, APIClient]:
    # the scheduler's own identity: Kubernetes' system:kube-scheduler may create both reviews
    token = add_token(api.data_dir / "tokens.json", user="system:kube-scheduler")
    client = APIClient(replace(api.client_config(), token=token))
    server = MetricsServer(
        DelegatedAuth(client, DelegatedSettings(authn_ttl=0.2, authz_denied_ttl=0.2)),
        MetricsServerSettings(cert_dir=tmp_path / "certs", name="scheduler"),
    )
    await server.start()
    return server, client


async def test_component_metrics_refuse_anonymous_and_unprivileged_readers(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    server, client = await _serve(sqlite_api, tmp_path)
    eve = add_token(sqlite_api.data_dir / "tokens.json", user="eve", groups=["team"])
    try:
        async with httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=tmp_path / "certs" / "scheduler.crt")
        ) as http:
            assert (await http.get(server.url + "/healthz")).text == "ok"
            assert (await http.get(server.url + "/metrics")).status_code == 401
            bad = await http.get(server.url + "/metrics", headers={"Authorization": "Bearer x"})
            assert bad.status_code == 401
            refused = await http.get(
                server.url + "/metrics", headers={"Authorization": f"Bearer {eve}"}
            )
            assert refused.status_code == 403
            assert refused.text == 'forbidden: User "eve" cannot get path "/metrics"'
    finally:
        await server.close()
        await client.close()


async def test_monitoring_reads_a_queue_depth_that_moves_with_the_queue(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    server, client = await _serve(sqlite_api, tmp_path)
    token = add_token(
        sqlite_api.data_dir / "tokens.json", user="prometheus", groups=["system:monitoring"]
    )
    queue = WorkQueue(name="test-depth-queue")
    try:
        async with httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=tmp_path / "certs" / "scheduler.crt"),
            headers={"Authorization": f"Bearer {token}"},
        ) as http:

            async def depth() -> float | None:
                response = await http.get(server.url + "/metrics")
                assert response.status_code == 200
                return _value(response.text, "workqueue_depth", name="test-depth-queue")

            assert await depth() == 0
            for key in ("a", "b", "c"):
                queue.add(key)
            assert await depth() == 3
            key = await queue.get()
            text = (await http.get(server.url + "/metrics")).text
            assert _value(text, "workqueue_depth", name="test-depth-queue") == 2
            assert _value(text, "workqueue_adds_total", name="test-depth-queue") == 3
            assert (
                _value(text, "workqueue_queue_duration_seconds_count", name="test-depth-queue") == 1
            )
            await asyncio.sleep(0)  # the key is in a worker's hands: work in progress shows
            assert (
                _value(text, "workqueue_longest_running_processor_seconds", name="test-depth-queue")
                or 0
            ) >= 0
            queue.done(key)
            queue.add_rate_limited("d")
            text = (await http.get(server.url + "/metrics")).text
            assert (
                _value(text, "workqueue_work_duration_seconds_count", name="test-depth-queue") == 1
            )
            assert _value(text, "workqueue_retries_total", name="test-depth-queue") == 1
            assert _value(text, "process_resident_memory_bytes") is not None
    finally:
        queue.shutdown()
        await server.close()
        await client.close()

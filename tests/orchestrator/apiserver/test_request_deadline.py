"""A request's deadline (``deadline.py``): ``?timeout=``, the server's maximum, and the 504.

Against a real API server (in its own thread) and a real HTTPS admission
webhook that answers only when the test lets it (``/slow``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from support.apiserver import RunningAPI
from support.wait import eventually
from support.webhookserver import WebhookServer, serve_webhooks

from orchestrator import pki
from orchestrator.api import errors
from orchestrator.api.timestamps import parse_duration
from orchestrator.apiserver.deadline import request_timeout

TIMED_OUT = "Timeout: request did not complete within requested timeout - context deadline exceeded"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("2h45m", 9900.0),
        ("250us", 0.00025),
        ("0", 0.0),
        ("-2s", -2.0),
        ("+3s", 3.0),
        (".5s", 0.5),
    ],
)
def test_go_durations_are_read_as_go_reads_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "s", "1x", "1s2", "1 s", "--1s", "1.2.3s", "one"])
def test_what_go_refuses_as_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("query", "seconds"),
    [
        (b"", 60.0),
        (b"limit=5", 60.0),
        (b"timeout=5s", 5.0),
        (b"limit=5&timeout=250ms", 0.25),
        (b"timeout=2m", 60.0),  # above the server's maximum: the maximum
        (b"timeout=0", 60.0),  # none asked: the maximum
        (b"timeout=-1s", 60.0),
        (b"timeout=", 60.0),
        (b"timeoutSeconds=5", 60.0),  # a watch's own parameter, not this one
    ],
)
def test_a_request_gets_its_own_timeout_within_the_servers_maximum(
    query: bytes, seconds: float
) -> None:
    assert request_timeout(query, 60.0) == pytest.approx(seconds)


def test_a_timeout_that_is_not_a_duration_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest) as refused:
        request_timeout(b"timeout=soon", 60.0)
    assert refused.value.message == "invalid timeout specified in the request URL"


@pytest.fixture
async def webhooks(tmp_path: Path) -> AsyncIterator[WebhookServer]:
    ca = pki.ensure_ca(tmp_path / "ca", "deadline-test-ca")
    async with serve_webhooks(ca, tmp_path / "hooks", []) as server:
        yield server


async def test_a_list_waiting_past_its_deadline_is_answered_504(http: httpx.AsyncClient) -> None:
    # A list for a future resourceVersion waits up to 3 s for it (Kubernetes' watch cache);
    # a 300 ms deadline answers first, with Kubernetes' words for it.
    r = await http.get(
        "/api/v1/configmaps",
        params={
            "resourceVersion": "999999999",
            "resourceVersionMatch": "NotOlderThan",
            "timeout": "300ms",
        },
    )
    assert r.status_code == 504, r.text
    assert (r.json()["reason"], r.json()["message"]) == ("Timeout", TIMED_OUT)
    r = await http.get("/api/v1/configmaps", params={"timeout": "soon"})
    assert r.status_code == 400
    assert r.json()["message"] == "invalid timeout specified in the request URL"
    assert (await http.get("/api/v1/configmaps", params={"timeout": "2s"})).status_code == 200


async def test_a_write_held_by_a_slow_webhook_fails_at_its_deadline_and_stores_nothing(
    http: httpx.AsyncClient,
    sqlite_api: RunningAPI,
    webhooks: WebhookServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="orchestrator.apiserver.deadline")
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "slow"},
        "webhooks": [
            {
                "name": "slow.example.com",
                "clientConfig": {"url": webhooks.url("/slow"), "caBundle": webhooks.ca_bundle},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 30,  # longer than the request may take
                "failurePolicy": "Fail",
            }
        ],
    }
    created = await http.post(
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", json=config
    )
    assert created.status_code == 201, created.text
    admission = sqlite_api.server.webhooks
    assert admission is not None
    key, version = (
        "ValidatingWebhookConfiguration/slow",
        created.json()["metadata"]["resourceVersion"],
    )
    await eventually(lambda: admission.in_effect().get(key) == version, 5, "the webhook in effect")

    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held"}}
    r = await http.post("/api/v1/namespaces/default/configmaps?timeout=1s", json=body)
    # The call ends at the request's deadline, not the webhook's 30 s: the write fails closed,
    # in Kubernetes' words, and the query the webhook was sent shows the time it was given.
    assert r.status_code == 500, r.text
    message = r.json()["message"]
    assert message.startswith(
        'Internal error occurred: failed calling webhook "slow.example.com": failed to call '
        f'webhook: Post "{webhooks.url("/slow")}?timeout='
    ), message
    assert message.endswith('ms": context deadline exceeded'), message
    assert len(webhooks.seen("/slow")) == 1
    # Let the webhook allow now: the call had ended, so nothing is stored after the refusal.
    webhooks.release.set()
    assert (await http.get("/api/v1/namespaces/default/configmaps/held")).status_code == 404
    assert not [m for m in caplog.messages if "post-timeout activity" in m]

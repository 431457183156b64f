"""Fixtures for the webhook dispatcher's tests: a real HTTPS webhook server on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.webhookserver import WebhookServer, serve_webhooks

from orchestrator import pki

SERVICE_NAME = "hooks.webhooks.svc"  # the server's certificate covers it: Service "hooks"


@pytest.fixture(scope="session")
def webhook_ca(tmp_path_factory: pytest.TempPathFactory) -> pki.CertPaths:
    return pki.ensure_ca(tmp_path_factory.mktemp("webhook-ca"), "webhook-test-ca")


@pytest.fixture
async def webhook_server(webhook_ca: pki.CertPaths, tmp_path: Path) -> AsyncIterator[WebhookServer]:
    async with serve_webhooks(webhook_ca, tmp_path, [SERVICE_NAME]) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

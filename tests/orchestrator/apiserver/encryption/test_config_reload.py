"""A key rotation without a restart: the API server reloads its encryption configuration.

A real API server on SQLite with ``--encryption-provider-config-automatic-reload``
(a 0.2 s look at the file): the three steps of a rotation as an operator
makes them, checked in the stored bytes; a broken file keeps the old
configuration and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from encryptionfiles import sqlite_value, write_config
from support.apiserver import RunningAPI, start_api
from support.wait import wait_until

from orchestrator.apiserver.encryption.reload import ReloadSettings
from orchestrator.apiserver.metrics import ENCRYPTION_CONFIG_RELOADS

KEY = "/registry/core/secrets/default/{}"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "encryption.yaml", "k1")


@pytest.fixture
def api(tmp_path: Path, config: Path) -> Iterator[RunningAPI]:
    running = start_api(
        tmp_path / "api",
        encryption_config=config,
        encryption_reload=ReloadSettings(enabled=True, interval=0.2),
    )
    try:
        yield running
    finally:
        running.stop()


def create_secret(api: RunningAPI, name: str) -> None:
    with api.http() as http:
        body = {"metadata": {"name": name}, "data": {"password": "aHVudGVyMg=="}}
        r = http.post("/api/v1/namespaces/default/secrets", json=body)
        assert r.status_code == 201, r.text


def sealed_with(api: RunningAPI, name: str, key: str) -> bool:
    return sqlite_value(api.data_dir, KEY.format(name)).startswith(
        f"k8s:enc:aesgcm:v1:{key}:".encode()
    )


def reloads(status: str) -> float:
    return ENCRYPTION_CONFIG_RELOADS.labels(status)._value.get()


def test_keys_rotate_by_editing_the_file_while_the_server_runs(
    api: RunningAPI, config: Path
) -> None:
    create_secret(api, "before")
    assert sealed_with(api, "before", "k1")
    succeeded = reloads("success")

    # 1. the new key second: readable everywhere, nothing written with it yet
    write_config(config, "k1", "k2")
    wait_until(lambda: reloads("success") > succeeded, 10, "the first reload")
    create_secret(api, "during")
    assert sealed_with(api, "during", "k1")

    # 2. the new key first: new writes use it, and what was written before is re-sealed
    write_config(config, "k2", "k1")
    wait_until(lambda: sealed_with(api, "before", "k2"), 10, "the old Secret re-sealed with k2")
    wait_until(lambda: sealed_with(api, "during", "k2"), 10, "the other one too")
    create_secret(api, "after")
    assert sealed_with(api, "after", "k2")

    # 3. the old key out: every Secret still reads
    write_config(config, "k2")
    wait_until(lambda: reloads("success") >= succeeded + 3, 10, "the last reload")
    with api.http() as http:
        for name in ("before", "during", "after"):
            r = http.get(f"/api/v1/namespaces/default/secrets/{name}")
            assert r.status_code == 200 and r.json()["data"]["password"] == "aHVudGVyMg=="


def test_a_broken_file_keeps_the_configuration_in_force_and_says_why(
    api: RunningAPI, config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="orchestrator.apiserver.encryption.reload")
    failed = reloads("failure")
    config.write_text(config.read_text().replace("aesgcm:", "aesgcm-typo:"))
    wait_until(lambda: reloads("failure") > failed, 10, "the reload to fail")
    message = next(m for m in caplog.messages if "not reloaded" in m)
    assert "aesgcm-typo" in message, message
    create_secret(api, "still-sealed")
    assert sealed_with(api, "still-sealed", "k1")

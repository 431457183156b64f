"""Secrets encrypted at rest through a real API server, on SQLite and on a real etcd.

The store holds only ``k8s:enc:aesgcm:v1:<key>:`` values for Secrets (SQLite's
file, WAL and change log alike), every client reads them plain (HTTP, watch,
kubectl), ConfigMaps stay as they were, a Secret written before the key is
rewritten on start, a rotation keeps every Secret readable, and a value no
configured key opens answers 500 for that object only.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from encryptionfiles import (
    sqlite_files,
    sqlite_log_values,
    sqlite_value,
    stored_value,
    write_config,
)
from support.apiserver import RunningAPI, WatchStream, start_api
from support.engines import require_engine

PLAIN = "correct horse battery staple 7f3a"
ENCODED = base64.b64encode(PLAIN.encode()).decode()
SECRETS = "/api/v1/namespaces/default/secrets"
KEY = "/registry/core/secrets/default/{}"


def secret(name: str, value: str = PLAIN) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"password": value},
    }


def create_secret(api: RunningAPI, name: str, value: str = PLAIN) -> dict:
    with api.http() as http:
        response = http.post(SECRETS, json=secret(name, value))
        assert response.status_code == 201, response.text
        return response.json()


def read_password(api: RunningAPI, name: str) -> str:
    with api.http() as http:
        response = http.get(f"{SECRETS}/{name}")
        assert response.status_code == 200, response.text
        return base64.b64decode(response.json()["data"]["password"]).decode()


def rewrite_report(api: RunningAPI):
    assert api.server.rewrite is not None
    future = asyncio.run_coroutine_threadsafe(
        asyncio.wait_for(asyncio.shield(api.server.rewrite), 30), api.loop
    )
    return future.result(35)


def kubectl(api: RunningAPI, tmp_path: Path, *args: str) -> str:
    require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl not on PATH")
    result = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(api.kubeconfig),
            "--cache-dir",
            str(tmp_path / "kc"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def encrypted_api(tmp_path: Path, store_spec: str):
    running = start_api(
        tmp_path / "api", store_spec, encryption_config=write_config(tmp_path / "enc.yaml", "k1")
    )
    try:
        yield running
    finally:
        running.stop()


def test_a_secret_is_stored_sealed_and_every_client_reads_it_plain(encrypted_api, tmp_path):
    api = encrypted_api
    with api.http() as http:
        start = http.get(SECRETS).json()["metadata"]["resourceVersion"]
        configmap = {"metadata": {"name": "settings"}, "data": {"colour": "plain-configmap-value"}}
        assert http.post("/api/v1/namespaces/default/configmaps", json=configmap).status_code == 201
        with WatchStream(http, SECRETS, {"resourceVersion": start}) as live:
            created = create_secret(api, "db")
            event = live.next()
        assert event["type"] == "ADDED"
        assert event["object"]["data"]["password"] == ENCODED
        # A watch replaying from before the create (the watch cache's ring) decrypts too.
        with WatchStream(http, SECRETS, {"resourceVersion": start}) as replay:
            assert replay.next()["object"]["data"]["password"] == ENCODED
        listed = http.get(SECRETS).json()["items"]
        assert [s["data"]["password"] for s in listed] == [ENCODED]
    assert read_password(api, "db") == PLAIN
    shown = kubectl(api, tmp_path, "get", "secret", "db", "-o", "jsonpath={.data.password}")
    assert shown == ENCODED

    stored = stored_value(api.store, api.data_dir, KEY.format("db"))
    assert stored.startswith(b"k8s:enc:aesgcm:v1:k1:")
    assert ENCODED.encode() not in stored and PLAIN.encode() not in stored
    assert created["metadata"]["uid"].encode() not in stored  # the whole object is sealed
    if api.store == "sqlite":
        raw = sqlite_files(api.data_dir)
        assert ENCODED.encode() not in raw and PLAIN.encode() not in raw
        assert b"plain-configmap-value" in raw  # not configured: stored as written
        assert all(
            v.startswith(b"k8s:enc:") for v in sqlite_log_values(api.data_dir, KEY.format("db"))
        )
    else:
        configmap_key = "/registry/core/configmaps/default/settings"
        assert b"plain-configmap-value" in stored_value(api.store, api.data_dir, configmap_key)


def test_a_secret_written_before_the_key_is_rewritten_on_the_first_start_with_it(
    tmp_path, store_spec
):
    before = start_api(tmp_path / "api", store_spec)
    try:
        create_secret(before, "old")
    finally:
        before.stop()
    assert ENCODED.encode() in stored_value(store_spec, tmp_path / "api", KEY.format("old"))

    api = start_api(
        tmp_path / "api", store_spec, encryption_config=write_config(tmp_path / "enc.yaml", "k1")
    )
    try:
        report = rewrite_report(api)
        assert report.rewritten == 1 and report.unreadable == 0
        assert stored_value(api.store, api.data_dir, KEY.format("old")).startswith(
            b"k8s:enc:aesgcm:v1:k1:"
        )
        assert read_password(api, "old") == PLAIN
    finally:
        api.stop()
    again = start_api(tmp_path / "api", store_spec, encryption_config=tmp_path / "enc.yaml")
    try:
        assert rewrite_report(again).rewritten == 0  # once: nothing is stale any more
    finally:
        again.stop()


def test_rotating_the_key_keeps_every_secret_readable(tmp_path, store_spec):
    data_dir, config = tmp_path / "api", tmp_path / "enc.yaml"

    def serve(*keys: str, identity: bool = True) -> RunningAPI:
        return start_api(
            data_dir, store_spec, encryption_config=write_config(config, *keys, identity=identity)
        )

    steps = [("k1",), ("k1", "k2"), ("k2", "k1"), ("k2",)]  # add second, move first, drop old
    for i, keys in enumerate(steps):
        api = serve(*keys, identity=(i == 0))
        try:
            rewrite_report(api)
            create_secret(api, f"s{i}", f"{PLAIN} {i}")
            for j in range(i + 1):
                assert read_password(api, f"s{j}") == f"{PLAIN} {j}"
                stored = stored_value(api.store, data_dir, KEY.format(f"s{j}"))
                assert stored.startswith(f"k8s:enc:aesgcm:v1:{keys[0]}:".encode())
        finally:
            api.stop()


def test_a_secret_no_configured_key_opens_answers_500_for_that_object_only(tmp_path, store_spec):
    data_dir = tmp_path / "api"
    api = start_api(data_dir, store_spec, encryption_config=write_config(tmp_path / "a.yaml", "k1"))
    try:
        create_secret(api, "lost")
    finally:
        api.stop()
    api = start_api(data_dir, store_spec, encryption_config=write_config(tmp_path / "b.yaml", "k3"))
    try:
        assert rewrite_report(api).unreadable == 1
        create_secret(api, "fresh")
        assert read_password(api, "fresh") == PLAIN
        with api.http() as http:
            got = http.get(f"{SECRETS}/lost")
            assert got.status_code == 500
            status = got.json()
            assert status["reason"] == "InternalError"
            assert status["message"] == (
                'Internal error occurred: unable to transform key "/registry/core/secrets/default/'
                'lost": no matching prefix found'
            )
            listed = http.get(SECRETS)  # a list meeting it fails, as Kubernetes' does
            assert listed.status_code == 500
            assert "unable to transform key" in listed.json()["message"]
            assert http.get("/api/v1/namespaces/default/configmaps").status_code == 200
        # Still sealed with k1, untouched: putting k1 back brings it back.
        assert stored_value(api.store, data_dir, KEY.format("lost")).startswith(
            b"k8s:enc:aesgcm:v1:k1:"
        )
    finally:
        api.stop()


def test_a_wrong_secret_under_a_known_key_name_names_the_authentication_failure(tmp_path):
    data_dir = tmp_path / "api"
    api = start_api(data_dir, encryption_config=write_config(tmp_path / "a.yaml", "k1"))
    try:
        create_secret(api, "db")
    finally:
        api.stop()
    other = base64.b64encode(b"x" * 32).decode()
    wrong = write_config(tmp_path / "b.yaml", "k1", secrets={"k1": other})
    api = start_api(data_dir, encryption_config=wrong)
    try:
        with api.http() as http:
            got = http.get(f"{SECRETS}/db")
        assert got.status_code == 500
        assert got.json()["message"].endswith(": cipher: message authentication failed")
        assert sqlite_value(data_dir, KEY.format("db")).startswith(b"k8s:enc:aesgcm:v1:k1:")
    finally:
        api.stop()


def test_kubectl_replace_of_every_secret_rewrites_them_with_the_new_first_key(tmp_path):
    data_dir = tmp_path / "api"
    api = start_api(data_dir, encryption_config=write_config(tmp_path / "a.yaml", "k1"))
    try:
        for name in ("one", "two"):
            create_secret(api, name)
    finally:
        api.stop()
    api = start_api(
        data_dir,
        encryption_config=write_config(tmp_path / "b.yaml", "k2", "k1"),
        encryption_rewrite_on_start=False,  # the by-hand path of the README
    )
    try:
        assert sqlite_value(data_dir, KEY.format("one")).startswith(b"k8s:enc:aesgcm:v1:k1:")
        listed = kubectl(api, tmp_path, "get", "secrets", "-A", "-o", "json")
        require_engine("kubectl", shutil.which("kubectl") is not None, "kubectl not on PATH")
        replaced = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(api.kubeconfig),
                "--cache-dir",
                str(tmp_path / "kc"),
                "replace",
                "-f",
                "-",
            ],
            input=listed,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert replaced.returncode == 0, replaced.stderr
        for name in ("one", "two"):
            assert sqlite_value(data_dir, KEY.format(name)).startswith(b"k8s:enc:aesgcm:v1:k2:")
            assert read_password(api, name) == PLAIN
    finally:
        api.stop()

"""A watch whose store fails mid-stream ends with an ERROR event, not a cut connection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.apiserver import start_api
from support.engines import require_engine
from support.etcd import EtcdProcess, etcd_available

pytestmark = pytest.mark.etcd

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def test_store_failure_during_a_watch_is_sent_as_an_error_event(tmp_path: Path) -> None:
    require_engine("etcd", etcd_available(), "etcd not installed")
    etcd = EtcdProcess().start()  # its own etcd: this test stops it
    api = None
    try:
        api = start_api(tmp_path / "api", f"etcd://{etcd.endpoint}")
        with api.http() as http:
            params = {"watch": "1", "resourceVersion": "0", "timeoutSeconds": "60"}
            with http.stream("GET", CONFIGMAPS, params=params) as stream:
                assert stream.status_code == 200
                lines = stream.iter_lines()
                r = http.post(CONFIGMAPS, json={"metadata": {"name": "a"}})
                assert r.status_code == 201
                added = json.loads(next(lines))
                assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "a")
                etcd.stop()
                error = json.loads(next(lines))
                rest = list(lines)  # the stream ends after the ERROR event
    finally:
        if api is not None:
            api.stop()
        etcd.stop()
    assert error["type"] == "ERROR"
    status = error["object"]
    assert (status["kind"], status["status"], status["code"]) == ("Status", "Failure", 500)
    assert status["reason"] == "InternalError"
    assert status["message"].startswith("Internal error occurred: ")
    assert rest == []

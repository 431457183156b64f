"""An operator written with kopf (a widely used Python operator framework, not ours)
reconciles a custom kind here exactly as it would on Kubernetes.

kopf runs as its own process with the cluster's kubeconfig: it discovers the
kind, watches it, adds and removes its finalizer, patches status through the
status subresource, and the operator creates a ConfigMap it owns.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.apiserver import RunningAPI
from support.wait import wait_until

OPERATOR = Path(__file__).parent / "operators" / "widgets.py"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "minimum": 1}},
                            },
                            # kopf keeps its progress in status: the schema must keep it too
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
def operator(sqlite_api: RunningAPI, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with sqlite_api.http() as http:
        r = http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=WIDGET_CRD)
        assert r.status_code == 201, r.text
        wait_until(lambda: http.get(WIDGETS).status_code == 200, message="widgets not served")
    log = (tmp_path / "kopf.log").open("wb")
    env = {**os.environ, "KUBECONFIG": str(sqlite_api.kubeconfig), "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kopf",
            "run",
            "--standalone",
            "--namespace",
            "default",
            "--verbose",
            str(OPERATOR),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        print((tmp_path / "kopf.log").read_text()[-6000:])


def _get(http: httpx.Client, path: str) -> dict | None:
    r = http.get(path)
    return r.json() if r.status_code == 200 else None


def test_a_kopf_operator_reconciles_a_custom_kind(
    sqlite_api: RunningAPI, operator: subprocess.Popen[bytes]
) -> None:
    with sqlite_api.http() as http:
        widget = {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        }
        r = http.post(WIDGETS, json=widget)
        assert r.status_code == 201, r.text
        uid = r.json()["metadata"]["uid"]

        # the finalizer, the owned ConfigMap and the status, all by the operator
        def reconciled() -> dict | None:
            w = _get(http, f"{WIDGETS}/w1")
            if w and w.get("status", {}).get("phase") == "Ready":
                return w
            return None

        done = wait_until(reconciled, timeout=30, message="the operator never reported Ready")
        assert FINALIZER in done["metadata"]["finalizers"]
        assert done["status"]["create_data"] == {"configMap": "w1-data"}
        data = _get(http, f"{CONFIGMAPS}/w1-data")
        assert data is not None and data["data"] == {"size": "3"}
        owner = data["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Widget", "w1", uid)
        assert owner["controller"] is True

        # an update reaches its handler
        r = http.patch(
            f"{WIDGETS}/w1",
            json={"spec": {"size": 5}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        wait_until(
            lambda: (_get(http, f"{CONFIGMAPS}/w1-data") or {}).get("data") == {"size": "5"},
            timeout=30,
            message="the resize handler never ran",
        )

        # deletion: the handler runs, then kopf removes its finalizer and the object goes
        assert http.delete(f"{WIDGETS}/w1").status_code in (200, 202)
        wait_until(
            lambda: http.get(f"{WIDGETS}/w1").status_code == 404,
            timeout=30,
            message="the widget was never released by its finalizer",
        )
        assert http.get(f"{CONFIGMAPS}/w1-data").status_code == 404
    assert operator.poll() is None, "kopf exited"

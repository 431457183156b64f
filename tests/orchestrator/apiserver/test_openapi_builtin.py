"""/openapi/v3 for the built-in kinds, read over HTTP from the real server."""

from __future__ import annotations

from typing import Any

import httpx
from support.apiserver import RunningAPI


def _document(http: httpx.Client, key: str) -> dict[str, Any]:
    index = http.get("/openapi/v3").json()["paths"]
    assert key in index, sorted(index)
    r = http.get(index[key]["serverRelativeURL"])
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]
    return r.json()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_index_lists_core_and_built_in_groups(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        index = http.get("/openapi/v3").json()["paths"]
    for key in (
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/batch/v1beta1",
        "apis/coordination.k8s.io/v1",
        "apis/networking.k8s.io/v1",
    ):
        assert key in index, key


def test_deployment_schema_reaches_container_fields(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        doc = _document(http, "apis/apps/v1")
    deployment = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert deployment["description"].startswith("A Deployment keeps")
    spec = deployment["properties"]["spec"]
    pod_spec = spec["properties"]["template"]["properties"]["spec"]
    containers = pod_spec["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    container = containers["items"]["properties"]
    assert container["image"]["type"] == "string"
    assert container["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    template_meta = _resolve(doc, spec["properties"]["template"]["properties"]["metadata"])
    assert "labels" in template_meta["properties"]
    assert spec["properties"]["strategy"]["properties"]["rollingUpdate"]["properties"][
        "maxSurge"
    ] == {"x-kubernetes-int-or-string": True}


def test_core_paths_live_under_api_v1_with_strategic_merge(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        doc = _document(http, "api/v1")
    pods = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert pods["get"]["x-kubernetes-group-version-kind"] == {
        "group": "",
        "version": "v1",
        "kind": "Pod",
    }
    assert pods["get"]["operationId"] == "readCoreV1NamespacedPod"
    patch_types = set(pods["patch"]["requestBody"]["content"])
    assert "application/strategic-merge-patch+json" in patch_types
    assert "/api/v1/nodes/{name}/status" in doc["paths"]
    assert "io.k8s.api.core.v1.Service" in doc["components"]["schemas"]
    service_ports = doc["components"]["schemas"]["io.k8s.api.core.v1.Service"]["properties"][
        "spec"
    ]["properties"]["ports"]
    assert service_ports["x-kubernetes-patch-merge-key"] == "port"
    # Kinds the server takes but never lists publish nothing.
    assert "io.k8s.api.core.v1.Binding" not in doc["components"]["schemas"]

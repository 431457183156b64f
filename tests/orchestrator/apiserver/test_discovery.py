"""Discovery documents in the shape kubectl and the Python client's models need."""

from __future__ import annotations

import pytest
from support.apiserver import RunningAPI


def test_api_versions(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        body = http.get("/api").json()
    assert body["kind"] == "APIVersions"
    assert body["versions"] == ["v1"]
    cidrs = body["serverAddressByClientCIDRs"]
    assert cidrs and cidrs[0]["clientCIDR"] == "0.0.0.0/0" and cidrs[0]["serverAddress"]


def test_core_resource_list(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        body = http.get("/api/v1").json()
    assert (body["kind"], body["groupVersion"]) == ("APIResourceList", "v1")
    by_name = {r["name"]: r for r in body["resources"]}
    for resource in body["resources"]:
        assert {"name", "singularName", "namespaced", "kind", "verbs"} <= resource.keys()
        assert isinstance(resource["singularName"], str)
    assert by_name["pods"]["singularName"] == "pod"
    assert by_name["pods"]["shortNames"] == ["po"]
    assert "all" in by_name["pods"]["categories"]
    assert by_name["pods"]["namespaced"] is True
    assert by_name["namespaces"]["namespaced"] is False
    assert set(by_name["pods"]["verbs"]) >= {
        "create",
        "delete",
        "get",
        "list",
        "patch",
        "update",
        "watch",
        "deletecollection",
    }
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["pods/binding"]["kind"] == "Binding"
    assert by_name["services"]["shortNames"] == ["svc"]


def test_group_list_and_group(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        groups = http.get("/apis").json()
        apps = http.get("/apis/apps").json()
    assert groups["kind"] == "APIGroupList"
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "batch", "coordination.k8s.io"} <= names
    for group in groups["groups"]:
        assert group["versions"] and group["preferredVersion"]["groupVersion"]
    assert apps["kind"] == "APIGroup" and apps["name"] == "apps"
    assert apps["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


def test_apps_resource_list_includes_scale(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        body = http.get("/apis/apps/v1").json()
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["deployments"]["shortNames"] == ["deploy"]
    scale = by_name["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert "singularName" in scale


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v1/",
        "/apis/",
        "/apis/apps/",
        "/apis/apps/v1/",
        "/api/v1/namespaces/default/configmaps/",
    ],
)
def test_trailing_slashes_do_not_redirect(sqlite_api: RunningAPI, path: str) -> None:
    with sqlite_api.http() as http:
        r = http.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")


def test_unknown_group_and_version_are_not_found(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        assert http.get("/apis/nosuch.example.com").status_code == 404
        assert http.get("/apis/apps/v9").status_code == 404
        assert http.get("/api/v2").status_code == 404


def test_extra_versions_are_served(api: RunningAPI) -> None:
    cron = {
        "metadata": {"name": "c"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                }
            },
        },
    }
    with api.http() as http:
        assert http.get("/apis/batch/v1beta1").json()["groupVersion"] == "batch/v1beta1"
        r = http.post("/apis/batch/v1/namespaces/default/cronjobs", json=cron)
        assert r.status_code == 201, r.text
        r = http.get("/apis/batch/v1beta1/namespaces/default/cronjobs/c")
        assert r.status_code == 200

"""Writes Kubernetes answers in its own way: refused versions and resourceVersions, the
``bindings`` collection, and the cluster IP a dry-run Service shows."""

from __future__ import annotations

import ipaddress

import httpx
from support.apiserver import RunningAPI

PODS = "/api/v1/namespaces/default/pods"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SERVICES = "/api/v1/namespaces/default/services"


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def _missing(http: httpx.Client, path: str) -> bool:
    return http.get(path).status_code == 404


def test_create_carrying_a_resource_version_is_refused_and_stores_nothing(
    api: RunningAPI,
) -> None:
    with api.http() as http:
        body = {"metadata": {"name": "x", "resourceVersion": "12"}, "data": {"a": "b"}}
        r = http.post(CONFIGMAPS, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["reason"] == "BadRequest"
        assert r.json()["message"] == "resourceVersion should not be set on objects to be created"
        assert _missing(http, f"{CONFIGMAPS}/x")


def test_unknown_version_of_a_known_group_is_not_found(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        for path in (
            "/api/v2/namespaces/default/pods",
            "/api/v2/namespaces/default/pods/p",
            "/apis/apps/v2/namespaces/default/deployments",
            "/apis/apps/v1beta1/namespaces/default/deployments",
        ):
            r = http.get(path)
            assert r.status_code == 404, path
            assert r.json()["reason"] == "NotFound"
        assert http.post("/api/v2/namespaces/default/pods", json=_pod("p")).status_code == 404
        assert _missing(http, f"{PODS}/p")


def test_body_naming_an_unknown_version_is_refused(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(PODS, json={**_pod("p"), "apiVersion": "v2"})
        assert r.status_code == 400, r.text
        assert r.json()["message"] == (
            'no kind "Pod" is registered for version "v2" in scheme '
            '"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"'
        )
        deployment = {
            "apiVersion": "apps/v2",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {},
        }
        r = http.post("/apis/apps/v1/namespaces/default/deployments", json=deployment)
        assert r.status_code == 400
        assert 'for version "apps/v2"' in r.json()["message"]
        assert _missing(http, f"{PODS}/p")
        assert _missing(http, "/apis/apps/v1/namespaces/default/deployments/d")


def test_served_alias_version_in_a_body_is_accepted(sqlite_api: RunningAPI) -> None:
    cron = {
        "apiVersion": "batch/v1beta1",
        "kind": "CronJob",
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
    with sqlite_api.http() as http:
        r = http.post("/apis/batch/v1/namespaces/default/cronjobs", json=cron)
    assert r.status_code == 201, r.text


def test_bindings_collection_binds_the_named_pod(api: RunningAPI) -> None:
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    with api.http() as http:
        assert http.post(PODS, json=_pod("p")).status_code == 201
        r = http.post("/api/v1/namespaces/default/bindings", json=binding)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "Success"
        pod = http.get(f"{PODS}/p").json()
        assert pod["spec"]["nodeName"] == "node-1"
        scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert scheduled[0]["status"] == "True"
        again = http.post("/api/v1/namespaces/default/bindings", json=binding)
        assert again.status_code == 409
        assert again.json()["message"] == 'pod p is already assigned to node "node-1"'


def test_bindings_collection_refuses_what_it_cannot_bind(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        target = {"target": {"kind": "Node", "name": "node-1"}}
        r = http.post("/api/v1/namespaces/default/bindings", json={"metadata": {}, **target})
        assert r.status_code == 422
        assert "metadata.name: Required value" in r.json()["message"]
        r = http.post(
            "/api/v1/namespaces/default/bindings",
            json={"metadata": {"name": "ghost"}, **target},
        )
        assert r.status_code == 404
        other = {"metadata": {"name": "p", "namespace": "other"}, **target}
        r = http.post("/api/v1/namespaces/default/bindings", json=other)
        assert r.status_code == 400
        assert http.get("/api/v1/namespaces/default/bindings").status_code == 405
        resources = http.get("/api/v1").json()["resources"]
    (bindings,) = [r for r in resources if r["name"] == "bindings"]
    assert (bindings["kind"], bindings["namespaced"], bindings["verbs"]) == (
        "Binding",
        True,
        ["create"],
    )


def test_dry_run_service_shows_a_cluster_ip_it_does_not_keep(api: RunningAPI) -> None:
    service = {
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}], "type": "NodePort"},
    }
    with api.http() as http:
        r = http.post(SERVICES, params={"dryRun": "All"}, json=service)
        assert r.status_code == 201, r.text
        spec = r.json()["spec"]
        ip = spec["clusterIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/16")
        assert spec["clusterIPs"] == [ip]
        node_port = spec["ports"][0]["nodePort"]
        assert 30000 <= node_port <= 32767
        assert _missing(http, f"{SERVICES}/web")
        # Given back: a real Service may take exactly that address and port.
        service["spec"]["clusterIP"] = ip
        service["spec"]["ports"][0]["nodePort"] = node_port
        r = http.post(SERVICES, json=service)
        assert r.status_code == 201, r.text
        assert r.json()["spec"]["clusterIP"] == ip


def test_a_dry_run_create_of_a_name_in_use_is_a_conflict_as_the_real_one(api: RunningAPI) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    body = {"metadata": {"name": "taken"}, "data": {"a": "1"}}
    with api.http() as http:
        assert http.post(path, json=body).status_code == 201
        for params in ({"dryRun": "All"}, {}):
            r = http.post(path, params=params, json={**body, "data": {"a": "2"}})
            assert r.status_code == 409, (params, r.text)
            assert r.json()["message"] == 'configmaps "taken" already exists'
        assert http.get(f"{path}/taken").json()["data"] == {"a": "1"}
        # Kubernetes checks a sent resourceVersion in its storage, which a dry run never
        # reaches: the dry run is answered, the real create refused.
        fresh = {"metadata": {"name": "fresh", "resourceVersion": "5"}}
        assert http.post(path, params={"dryRun": "All"}, json=fresh).status_code == 201
        assert http.post(path, json=fresh).status_code == 400

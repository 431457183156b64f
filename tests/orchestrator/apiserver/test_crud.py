"""Create, read, update and delete over HTTP, and what the server fills in."""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Any

from support.apiserver import RunningAPI

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def deployment(name: str, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            **spec,
        },
    }


def test_create_fills_server_metadata(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(DEPLOYMENTS, json=deployment("web"))
    assert r.status_code == 201
    meta = r.json()["metadata"]
    assert meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert RFC3339_Z.match(meta["creationTimestamp"])
    assert isinstance(meta["resourceVersion"], str) and int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1


def test_get_returns_what_create_returned(api: RunningAPI) -> None:
    with api.http() as http:
        created = http.post(DEPLOYMENTS, json=deployment("web")).json()
        r = http.get(f"{DEPLOYMENTS}/web")
    assert r.status_code == 200
    assert r.json() == created


def test_create_without_kind_and_api_version_uses_the_url(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(CONFIGMAPS, json={"metadata": {"name": "bare"}, "data": {"a": "1"}})
    assert r.status_code == 201
    assert (r.json()["kind"], r.json()["apiVersion"]) == ("ConfigMap", "v1")


def test_resource_version_increases_with_every_write(api: RunningAPI) -> None:
    with api.http() as http:
        first = http.post(CONFIGMAPS, json={"metadata": {"name": "a"}}).json()
        second = http.post(CONFIGMAPS, json={"metadata": {"name": "b"}}).json()
        first["data"] = {"k": "v"}
        third = http.put(f"{CONFIGMAPS}/a", json=first).json()
    rvs = [int(o["metadata"]["resourceVersion"]) for o in (first, second, third)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_generation_moves_only_on_spec_change(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment("web")).json()
        obj["metadata"]["labels"]["extra"] = "yes"
        obj = http.put(f"{DEPLOYMENTS}/web", json=obj).json()
        assert obj["metadata"]["generation"] == 1
        obj["status"] = {"replicas": 3}
        obj = http.put(f"{DEPLOYMENTS}/web/status", json=obj).json()
        assert obj["metadata"]["generation"] == 1
        obj["spec"]["replicas"] = 4
        obj = http.put(f"{DEPLOYMENTS}/web", json=obj).json()
        assert obj["metadata"]["generation"] == 2


def test_no_op_update_keeps_resource_version(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment("web")).json()
        again = http.put(f"{DEPLOYMENTS}/web", json=obj)
        assert again.status_code == 200
        assert again.json()["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
        patched = http.patch(
            f"{DEPLOYMENTS}/web",
            json={"metadata": {"labels": {"app": "web"}}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.json()["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


def test_update_replaces_the_object(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}, "data": {"a": "1"}}).json()
        obj["data"] = {"b": "2"}
        r = http.put(f"{CONFIGMAPS}/cm", json=obj)
        assert r.status_code == 200
        assert http.get(f"{CONFIGMAPS}/cm").json()["data"] == {"b": "2"}


def test_update_without_resource_version_is_unconditional(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}, "data": {"a": "1"}})
        r = http.put(f"{CONFIGMAPS}/cm", json={"metadata": {"name": "cm"}, "data": {"a": "2"}})
    assert r.status_code == 200
    assert r.json()["data"] == {"a": "2"}


def test_update_keeps_uid_and_creation_timestamp(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}}).json()
        sent = {
            "metadata": {"name": "cm", "uid": "forged", "creationTimestamp": None},
            "data": {"x": "y"},
        }
        r = http.put(f"{CONFIGMAPS}/cm", json=sent)
    assert r.json()["metadata"]["uid"] == obj["metadata"]["uid"]
    assert r.json()["metadata"]["creationTimestamp"] == obj["metadata"]["creationTimestamp"]


def test_delete_removes_the_object(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}})
        r = http.delete(f"{CONFIGMAPS}/cm")
        assert r.status_code == 200
        assert r.json()["metadata"]["name"] == "cm"
        assert http.get(f"{CONFIGMAPS}/cm").status_code == 404


def test_cluster_scoped_crud(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post("/api/v1/namespaces", json={"metadata": {"name": "team-a"}})
        assert r.status_code == 201
        assert "namespace" not in r.json()["metadata"]
        assert r.json()["status"]["phase"] == "Active"
        obj = http.get("/api/v1/namespaces/team-a").json()
        obj["metadata"]["labels"] = {"team": "a"}
        assert http.put("/api/v1/namespaces/team-a", json=obj).status_code == 200
        node = {"metadata": {"name": "n1", "labels": {"zone": "z"}}, "spec": {}}
        assert http.post("/api/v1/nodes", json=node).status_code == 201
        assert http.get("/api/v1/nodes/n1").json()["metadata"]["labels"] == {"zone": "z"}
        assert http.delete("/api/v1/nodes/n1").status_code == 200
        assert http.get("/api/v1/nodes/n1").status_code == 404


def test_list_across_all_namespaces(api: RunningAPI) -> None:
    with api.http() as http:
        http.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
        http.post(CONFIGMAPS, json={"metadata": {"name": "one"}})
        http.post("/api/v1/namespaces/other/configmaps", json={"metadata": {"name": "two"}})
        everywhere = http.get("/api/v1/configmaps").json()
        only_default = http.get(CONFIGMAPS).json()
    assert everywhere["kind"] == "ConfigMapList"
    seen = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everywhere["items"]}
    assert seen == {("default", "one"), ("other", "two")}
    assert [o["metadata"]["name"] for o in only_default["items"]] == ["one"]


def test_empty_list_has_items_and_string_resource_version(api: RunningAPI) -> None:
    with api.http() as http:
        body = http.get("/apis/batch/v1/namespaces/default/jobs").json()
    assert body["items"] == []
    assert body["apiVersion"] == "batch/v1" and body["kind"] == "JobList"
    assert isinstance(body["metadata"]["resourceVersion"], str)


def test_generate_name_appends_a_suffix(api: RunningAPI) -> None:
    with api.http() as http:
        a = http.post(CONFIGMAPS, json={"metadata": {"generateName": "job-"}}).json()
        b = http.post(CONFIGMAPS, json={"metadata": {"generateName": "job-"}}).json()
    assert re.fullmatch(r"job-[a-z0-9]{5}", a["metadata"]["name"])
    assert a["metadata"]["name"] != b["metadata"]["name"]


def test_deployment_defaults_are_visible(api: RunningAPI) -> None:
    with api.http() as http:
        spec = http.post(DEPLOYMENTS, json=deployment("web")).json()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600


def test_service_gets_a_cluster_ip_and_port_defaults(api: RunningAPI) -> None:
    svc = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    with api.http() as http:
        r = http.post("/api/v1/namespaces/default/services", json=svc)
    assert r.status_code == 201
    spec = r.json()["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/16")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"][0]["protocol"] == "TCP"
    assert spec["ports"][0]["targetPort"] == 80


def test_secret_string_data_is_folded_into_data(api: RunningAPI) -> None:
    secret = {
        "metadata": {"name": "s"},
        "stringData": {"password": "hunter2"},
        "data": {"user": base64.b64encode(b"me").decode()},
    }
    with api.http() as http:
        body = http.post("/api/v1/namespaces/default/secrets", json=secret).json()
        stored = http.get("/api/v1/namespaces/default/secrets/s").json()
    assert body["type"] == "Opaque"
    assert "stringData" not in stored
    assert base64.b64decode(stored["data"]["password"]) == b"hunter2"
    assert base64.b64decode(stored["data"]["user"]) == b"me"


def test_unknown_fields_round_trip_with_a_warning(api: RunningAPI) -> None:
    cm = {"metadata": {"name": "cm"}, "data": {}, "futureField": {"x": 1}}
    with api.http() as http:
        r = http.post(CONFIGMAPS, json=cm)
        stored = http.get(f"{CONFIGMAPS}/cm").json()
    assert r.status_code == 201
    assert "futureField" in r.headers["warning"]
    assert stored["futureField"] == {"x": 1}


def test_strict_field_validation_rejects_unknown_fields(api: RunningAPI) -> None:
    dep = deployment("web")
    dep["spec"]["template"]["spec"]["containers"][0]["imagee"] = "typo"
    with api.http() as http:
        r = http.post(DEPLOYMENTS, params={"fieldValidation": "Strict"}, json=dep)
        assert http.get(f"{DEPLOYMENTS}/web").status_code == 404
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"
    assert "spec.template.spec.containers[0].imagee" in r.json()["message"]


def test_yaml_body_is_accepted(api: RunningAPI) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: '1'\n"
    with api.http() as http:
        r = http.post(CONFIGMAPS, content=body, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201
    assert r.json()["data"] == {"a": "1"}


def test_create_without_content_type_is_json(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(CONFIGMAPS, content=b'{"metadata":{"name":"plain"}}')
    assert r.status_code == 201

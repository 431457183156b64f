"""Errors come back as Status objects with the code, reason and message clients expect,
and a rejected write changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from support.apiserver import RunningAPI

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SERVICES = "/api/v1/namespaces/default/services"


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def assert_status(r: httpx.Response, code: int, reason: str) -> dict[str, Any]:
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert (body["code"], body["reason"]) == (code, reason)
    return body


def test_missing_object_is_not_found(api: RunningAPI) -> None:
    with api.http() as http:
        body = assert_status(http.get(f"{DEPLOYMENTS}/x"), 404, "NotFound")
    assert body["message"] == 'deployments.apps "x" not found'
    assert body["details"] == {"name": "x", "group": "apps", "kind": "deployments"}


def test_missing_core_object_message_has_no_group(api: RunningAPI) -> None:
    with api.http() as http:
        body = assert_status(http.delete(f"{CONFIGMAPS}/nope"), 404, "NotFound")
    assert body["message"] == 'configmaps "nope" not found'


def test_unknown_resource_path_is_not_found(api: RunningAPI) -> None:
    with api.http() as http:
        for path in (
            "/api/v1/namespaces/default/widgets",
            "/apis/nosuch.dev/v1/things",
            "/apis/apps/v1/namespaces/default/deployments/x/y/z",
            "/nothing/here",
            "/api/v1/namespaces/default/pods/p/scale",
        ):
            body = assert_status(http.get(path), 404, "NotFound")
            assert body["message"] == "the server could not find the requested resource"


def test_create_in_unknown_namespace_is_not_found(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post("/api/v1/namespaces/ghost/configmaps", json={"metadata": {"name": "a"}})
    body = assert_status(r, 404, "NotFound")
    assert body["message"] == 'namespaces "ghost" not found'


def test_create_twice_is_already_exists(api: RunningAPI) -> None:
    with api.http() as http:
        assert http.post(DEPLOYMENTS, json=deployment("web")).status_code == 201
        body = assert_status(http.post(DEPLOYMENTS, json=deployment("web")), 409, "AlreadyExists")
    assert body["message"] == 'deployments.apps "web" already exists'


def test_put_with_stale_resource_version_conflicts(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}, "data": {"a": "1"}}).json()
        first = dict(obj, data={"a": "2"})
        assert http.put(f"{CONFIGMAPS}/cm", json=first).status_code == 200
        stale = dict(obj, data={"a": "3"})
        body = assert_status(http.put(f"{CONFIGMAPS}/cm", json=stale), 409, "Conflict")
        assert http.get(f"{CONFIGMAPS}/cm").json()["data"] == {"a": "2"}
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_patch_with_stale_resource_version_conflicts(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment("web")).json()
        http.patch(
            f"{DEPLOYMENTS}/web",
            json={"spec": {"replicas": 2}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        stale = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "spec": {"replicas": 5},
        }
        r = http.patch(
            f"{DEPLOYMENTS}/web",
            json=stale,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        body = assert_status(r, 409, "Conflict")
        assert http.get(f"{DEPLOYMENTS}/web").json()["spec"]["replicas"] == 2
    assert body["message"].startswith('Operation cannot be fulfilled on deployments.apps "web"')


def test_invalid_object_lists_every_bad_field(api: RunningAPI) -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "Bad_Name"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
        },
    }
    with api.http() as http:
        body = assert_status(http.post(DEPLOYMENTS, json=bad), 422, "Invalid")
    assert body["message"].startswith('Deployment.apps "Bad_Name" is invalid: ')
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"metadata.name", "spec.template.spec.containers"} <= fields
    assert all(c["reason"] and c["message"] for c in body["details"]["causes"])
    assert "metadata.name: Invalid value" in body["message"]
    assert body["details"]["name"] == "Bad_Name" and body["details"]["kind"] == "Deployment"


def test_port_given_as_string_is_invalid(api: RunningAPI) -> None:
    dep = deployment("web")
    dep["metadata"]["name"] = "Bad"
    dep["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "80"}]
    with api.http() as http:
        body = assert_status(http.post(DEPLOYMENTS, json=dep), 422, "Invalid")
    fields = {c["field"] for c in body["details"]["causes"]}
    assert "spec.template.spec.containers[0].ports[0].containerPort" in fields
    assert "metadata.name" in fields


def test_rejected_update_changes_nothing(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment("web")).json()
        bad = dict(obj, spec=dict(obj["spec"], replicas=-1))
        assert_status(http.put(f"{DEPLOYMENTS}/web", json=bad), 422, "Invalid")
        after = http.get(f"{DEPLOYMENTS}/web").json()
    assert after["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 1


def test_malformed_json_names_line_and_column(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(
            CONFIGMAPS,
            content=b'{\n  "metadata": {"name": "x",}\n}',
            headers={"Content-Type": "application/json"},
        )
    body = assert_status(r, 400, "BadRequest")
    assert "line 2 column" in body["message"]


def test_malformed_yaml_is_bad_request(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(
            CONFIGMAPS,
            content=b"metadata:\n  name: [x\n",
            headers={"Content-Type": "application/yaml"},
        )
    body = assert_status(r, 400, "BadRequest")
    assert "line" in body["message"]


def test_body_kind_must_match_the_url(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(
            CONFIGMAPS, json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
        )
        body = assert_status(r, 400, "BadRequest")
        assert "Secret" in body["message"] and "ConfigMap" in body["message"]
        r = http.post(DEPLOYMENTS, json=dict(deployment("x"), apiVersion="batch/v1"))
        assert_status(r, 400, "BadRequest")
        assert http.get(f"{CONFIGMAPS}/x").status_code == 404


def test_body_namespace_must_match_the_url(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.post(CONFIGMAPS, json={"metadata": {"name": "x", "namespace": "kube-system"}})
        body = assert_status(r, 400, "BadRequest")
    assert "namespace" in body["message"]


def test_body_name_must_match_the_url_on_put(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "a"}})
        assert_status(
            http.put(f"{CONFIGMAPS}/a", json={"metadata": {"name": "b"}}), 400, "BadRequest"
        )


def test_body_that_is_not_an_object_is_bad_request(api: RunningAPI) -> None:
    with api.http() as http:
        assert_status(http.post(CONFIGMAPS, json=[1, 2]), 400, "BadRequest")
        assert_status(http.post(CONFIGMAPS, content=b""), 400, "BadRequest")


def test_unknown_patch_type_is_unsupported_and_truncated_protobuf_is_bad(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}})
        r = http.patch(f"{CONFIGMAPS}/cm", content=b"{}", headers={"Content-Type": "text/x-diff"})
        body = assert_status(r, 415, "UnsupportedMediaType")
        assert "application/merge-patch+json" in body["message"]
        r = http.post(
            CONFIGMAPS,
            content=b"k8s\x00\x0a\x02",
            headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
        )
        body = assert_status(r, 400, "BadRequest")  # built-in kinds take protobuf (kubectl 1.32+)
        assert "typeMeta: length 2 runs past the end" in body["message"]


def test_method_not_allowed(api: RunningAPI) -> None:
    with api.http() as http:
        assert_status(http.put(CONFIGMAPS, json={}), 405, "MethodNotAllowed")


def test_bad_query_parameters_are_bad_request(api: RunningAPI) -> None:
    with api.http() as http:
        assert_status(http.get(CONFIGMAPS, params={"limit": "many"}), 400, "BadRequest")
        assert_status(http.get(CONFIGMAPS, params={"watch": "maybe"}), 400, "BadRequest")
        assert_status(
            http.get(CONFIGMAPS, params={"watch": "1", "resourceVersion": "abc"}), 400, "BadRequest"
        )
        assert_status(
            http.get(CONFIGMAPS, params={"watch": "1", "timeoutSeconds": "soon"}), 400, "BadRequest"
        )
        assert_status(http.get(CONFIGMAPS, params={"labelSelector": "a in (b"}), 400, "BadRequest")
        assert_status(http.get(CONFIGMAPS, params={"continue": "!!!"}), 400, "BadRequest")
        assert_status(http.post(CONFIGMAPS, params={"dryRun": "Some"}, json={}), 400, "BadRequest")


def test_request_without_valid_token_is_unauthorized(api: RunningAPI) -> None:
    with api.http(token="") as http:
        body = assert_status(http.get(CONFIGMAPS), 401, "Unauthorized")
        assert body["message"] == "Unauthorized"
        assert_status(http.get("/api"), 401, "Unauthorized")
    with api.http(token="wrong") as http:
        assert_status(http.post(CONFIGMAPS, json={"metadata": {"name": "x"}}), 401, "Unauthorized")
    with api.http() as http:
        assert http.get(f"{CONFIGMAPS}/x").status_code == 404


def test_health_version_and_openapi_are_anonymous(api: RunningAPI) -> None:
    with api.http(token="") as http:
        for path in ("/healthz", "/livez", "/readyz", "/readyz/etcd"):
            r = http.get(path)
            assert (r.status_code, r.text) == (200, "ok"), path
        version = http.get("/version").json()
        assert (version["major"], version["minor"]) == ("1", "33")
        assert len(version) == 9
        r = http.get("/openapi/v2")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.content == b""


def test_rejected_service_leaves_no_cluster_ip_allocated(api: RunningAPI) -> None:
    good = {"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}}
    with api.http() as http:
        ip = http.post(SERVICES, json=good).json()["spec"]["clusterIP"]
        taken = {"metadata": {"name": "b"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}
        body = assert_status(http.post(SERVICES, json=taken), 422, "Invalid")
        assert "already allocated" in body["message"]
        dup = {
            "metadata": {"name": "a"},
            "spec": {"clusterIP": "10.96.5.5", "ports": [{"port": 80}]},
        }
        assert_status(http.post(SERVICES, json=dup), 409, "AlreadyExists")
        invalid = {
            "metadata": {"name": "c"},
            "spec": {"clusterIP": "10.96.5.6", "ports": [{"port": "http"}]},
        }
        assert_status(http.post(SERVICES, json=invalid), 422, "Invalid")
        http.delete(f"{SERVICES}/a")
        # Each address asked for above is free again: a new Service can take it.
        for name, wanted in (("d", "10.96.5.5"), ("e", "10.96.5.6"), ("f", ip)):
            svc = {
                "metadata": {"name": name},
                "spec": {"clusterIP": wanted, "ports": [{"port": 80}]},
            }
            r = http.post(SERVICES, json=svc)
            assert r.status_code == 201, r.text

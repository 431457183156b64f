"""PATCH over HTTP in its four content types, and dryRun on every write verb."""

from __future__ import annotations

import json
from typing import Any

import httpx
from support.apiserver import RunningAPI

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def deployment(name: str, containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers or [{"name": "web", "image": "nginx:1"}]},
            },
        },
    }


def containers(obj: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["image"] for c in obj["spec"]["template"]["spec"]["containers"]}


def test_merge_patch(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(
            CONFIGMAPS,
            json={"metadata": {"name": "cm", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1"}},
        )
        r = http.patch(
            f"{CONFIGMAPS}/cm",
            headers=MERGE,
            json={"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"y": "2"}},
        )
        assert r.status_code == 200
        stored = http.get(f"{CONFIGMAPS}/cm").json()
    assert stored["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert stored["data"] == {"x": "1", "y": "2"}


def test_merge_patch_replaces_lists(api: RunningAPI) -> None:
    two = [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment("web", two))
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "z"}]}}}}
        r = http.patch(f"{DEPLOYMENTS}/web", headers=MERGE, json=patch)
    assert containers(r.json()) == {"c": "z"}
    assert r.json()["metadata"]["generation"] == 2


def test_json_patch(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment("web"))
        ops = [
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}},
            {
                "op": "add",
                "path": "/spec/template/spec/containers/-",
                "value": {"name": "side", "image": "busybox"},
            },
        ]
        r = http.patch(f"{DEPLOYMENTS}/web", headers=JSON_PATCH, content=json.dumps(ops))
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["replicas"] == 3
    assert r.json()["metadata"]["annotations"] == {"note": "hi"}
    assert containers(r.json()) == {"web": "nginx:1", "side": "busybox"}


def test_failed_json_patch_test_op_changes_nothing(api: RunningAPI) -> None:
    with api.http() as http:
        before = http.post(DEPLOYMENTS, json=deployment("web")).json()
        ops = [
            {"op": "replace", "path": "/spec/replicas", "value": 9},
            {"op": "test", "path": "/spec/replicas", "value": 5},
        ]
        r = http.patch(f"{DEPLOYMENTS}/web", headers=JSON_PATCH, content=json.dumps(ops))
        after = http.get(f"{DEPLOYMENTS}/web").json()
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "Invalid"
    assert after == before


def test_json_patch_on_missing_path_is_invalid(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}})
        ops = [{"op": "replace", "path": "/data/nothing", "value": "x"}]
        r = http.patch(f"{CONFIGMAPS}/cm", headers=JSON_PATCH, content=json.dumps(ops))
    assert r.status_code == 422
    assert r.json()["kind"] == "Status"


def test_malformed_patch_bodies_are_bad_request(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}})
        assert http.patch(f"{CONFIGMAPS}/cm", headers=MERGE, content=b"{").status_code == 400
        r = http.patch(f"{CONFIGMAPS}/cm", headers=JSON_PATCH, content=b'{"op": "add"}')
        assert r.status_code == 400
        r = http.patch(f"{CONFIGMAPS}/cm", headers=MERGE, content=b"[1]")
        assert r.status_code == 400


def test_patch_of_missing_object_is_not_found(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.patch(f"{DEPLOYMENTS}/ghost", headers=STRATEGIC, json={"spec": {"replicas": 1}})
    assert r.status_code == 404
    assert r.json()["message"] == 'deployments.apps "ghost" not found'


def test_strategic_merge_patch_merges_containers_by_name(api: RunningAPI) -> None:
    two = [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment("web", two))
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}}
        r = http.patch(f"{DEPLOYMENTS}/web", headers=STRATEGIC, json=patch)
        assert containers(r.json()) == {"a": "a:1", "b": "b:2"}
        delete = {
            "spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "a"}]}}}
        }
        r = http.patch(f"{DEPLOYMENTS}/web", headers=STRATEGIC, json=delete)
        assert containers(r.json()) == {"b": "b:2"}
        assert containers(http.get(f"{DEPLOYMENTS}/web").json()) == {"b": "b:2"}


def test_strategic_patch_that_breaks_validation_is_invalid(api: RunningAPI) -> None:
    with api.http() as http:
        before = http.post(DEPLOYMENTS, json=deployment("web")).json()
        delete = {
            "spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "web"}]}}}
        }
        r = http.patch(f"{DEPLOYMENTS}/web", headers=STRATEGIC, json=delete)
        assert r.status_code == 422
        assert http.get(f"{DEPLOYMENTS}/web").json() == before


def test_server_side_apply_creates_then_updates(api: RunningAPI) -> None:
    manifest = deployment("web")
    with api.http() as http:
        r = http.patch(
            f"{DEPLOYMENTS}/web",
            headers=APPLY,
            content=json.dumps(manifest),
            params={"fieldManager": "kubectl", "force": "false"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["metadata"]["uid"]
        manifest["spec"]["replicas"] = 4
        r = http.patch(
            f"{DEPLOYMENTS}/web",
            headers=APPLY,
            content=json.dumps(manifest),
            params={"fieldManager": "kubectl"},
        )
        assert r.status_code == 200
        assert http.get(f"{DEPLOYMENTS}/web").json()["spec"]["replicas"] == 4


def test_server_side_apply_accepts_yaml(api: RunningAPI) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"
    with api.http() as http:
        r = http.patch(
            f"{CONFIGMAPS}/cm", headers=APPLY, content=body, params={"fieldManager": "me"}
        )
    assert r.status_code == 201
    assert r.json()["data"] == {"a": "b"}


def test_server_side_apply_needs_a_field_manager(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.patch(f"{DEPLOYMENTS}/web", headers=APPLY, content=json.dumps(deployment("web")))
        assert r.status_code == 422
        assert r.json()["reason"] == "Invalid"
        assert "fieldManager" in r.json()["message"]
        assert http.get(f"{DEPLOYMENTS}/web").status_code == 404


def _count(http: httpx.Client) -> int:
    return len(http.get(CONFIGMAPS).json()["items"])


def test_dry_run_persists_nothing(api: RunningAPI) -> None:
    dry = {"dryRun": "All"}
    with api.http() as http:
        r = http.post(CONFIGMAPS, params=dry, json={"metadata": {"name": "ghost"}})
        assert r.status_code == 201
        assert r.json()["metadata"]["name"] == "ghost"
        assert http.get(f"{CONFIGMAPS}/ghost").status_code == 404

        real = http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}, "data": {"a": "1"}}).json()
        changed = dict(real, data={"a": "2"})
        r = http.put(f"{CONFIGMAPS}/cm", params=dry, json=changed)
        assert (r.status_code, r.json()["data"]) == (200, {"a": "2"})
        r = http.patch(f"{CONFIGMAPS}/cm", params=dry, headers=MERGE, json={"data": {"a": "3"}})
        assert (r.status_code, r.json()["data"]) == (200, {"a": "3"})
        r = http.delete(f"{CONFIGMAPS}/cm", params=dry)
        assert r.status_code == 200
        r = http.patch(
            f"{CONFIGMAPS}/new",
            params={**dry, "fieldManager": "m"},
            headers=APPLY,
            content=b'{"metadata": {"name": "new"}}',
        )
        assert r.status_code == 201
        assert http.get(f"{CONFIGMAPS}/cm").json() == real
        assert _count(http) == 1


def test_dry_run_service_allocates_nothing(api: RunningAPI) -> None:
    svc = {
        "metadata": {"name": "s"},
        "spec": {
            "clusterIP": "10.96.7.7",
            "type": "NodePort",
            "ports": [{"port": 80, "nodePort": 30080}],
        },
    }
    with api.http() as http:
        r = http.post("/api/v1/namespaces/default/services", params={"dryRun": "All"}, json=svc)
        assert r.status_code == 201
        r = http.post("/api/v1/namespaces/default/services", json=svc)
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["ports"][0]["nodePort"] == 30080

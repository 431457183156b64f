"""Server-side apply and managedFields over HTTP, as Kubernetes answers them."""

from __future__ import annotations

from typing import Any

import httpx
from support.apiserver import RunningAPI
from support.crds import definition
from support.wait import wait_until

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def deployment(
    name: str = "web", containers: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers or [{"name": "web", "image": "nginx:1"}]},
            },
            **spec,
        },
    }


def apply(
    http: httpx.Client, path: str, body: dict[str, Any], manager: str, force: bool = False
) -> httpx.Response:
    params = {"fieldManager": manager}
    if force:
        params["force"] = "true"
    return http.patch(f"{path}/{body['metadata']['name']}", params=params, headers=APPLY, json=body)


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def test_two_appliers_share_an_object_and_each_owns_what_it_applied(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        r = apply(
            http,
            CONFIGMAPS,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cm"},
                "data": {"a": "1"},
            },
            "alice",
        )
        assert r.status_code == 201, r.text
        r = apply(
            http,
            CONFIGMAPS,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cm", "labels": {"team": "b"}},
                "data": {"b": "2"},
            },
            "bob",
        )
        assert r.status_code == 200, r.text
        obj = http.get(f"{CONFIGMAPS}/cm").json()
    assert obj["data"] == {"a": "1", "b": "2"}
    owners = managers(obj)
    assert owners["alice"]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert owners["bob"]["fieldsV1"] == {
        "f:data": {"f:b": {}},
        "f:metadata": {"f:labels": {"f:team": {}}},
    }
    for entry in owners.values():
        assert entry["operation"] == "Apply"
        assert entry["apiVersion"] == "v1"
        assert entry["fieldsType"] == "FieldsV1"
        assert entry["time"].endswith("Z")


def test_conflict_names_manager_and_field_and_force_moves_ownership(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        created = http.post(
            DEPLOYMENTS,
            params={"fieldManager": "kubectl-client-side-apply"},
            json=deployment(replicas=2),
        )
        assert created.status_code == 201, created.text
        r = apply(http, DEPLOYMENTS, deployment(replicas=5), "kubectl")
        assert r.status_code == 409, r.text
        status = r.json()
        assert status["reason"] == "Conflict"
        assert status["message"] == (
            'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
            "using apps/v1: .spec.replicas"
        )
        assert status["details"]["causes"] == [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
        unchanged = http.get(f"{DEPLOYMENTS}/web").json()
        assert unchanged["spec"]["replicas"] == 2
        assert (
            unchanged["metadata"]["resourceVersion"]
            == created.json()["metadata"]["resourceVersion"]
        )

        r = apply(http, DEPLOYMENTS, deployment(replicas=5), "kubectl", force=True)
        assert r.status_code == 200, r.text
        obj = r.json()
    assert obj["spec"]["replicas"] == 5
    owners = managers(obj)
    assert "f:replicas" in owners["kubectl"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners["kubectl-client-side-apply"]["fieldsV1"]["f:spec"]


def test_several_conflicts_are_listed_per_manager(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        http.post(DEPLOYMENTS, params={"fieldManager": "one"}, json=deployment(replicas=2))
        http.patch(
            f"{DEPLOYMENTS}/web",
            params={"fieldManager": "two"},
            headers=MERGE,
            json={"spec": {"minReadySeconds": 3}},
        )
        r = apply(http, DEPLOYMENTS, deployment(replicas=4, minReadySeconds=9), "kubectl")
    assert r.status_code == 409
    assert r.json()["message"] == (
        "Apply failed with 2 conflicts: "
        'conflicts with "one" using apps/v1:\n- .spec.replicas\n'
        'conflicts with "two" using apps/v1:\n- .spec.minReadySeconds'
    )


def test_field_dropped_from_config_is_removed_unless_another_manager_owns_it(
    sqlite_api: RunningAPI,
) -> None:
    with sqlite_api.http() as http:
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm"},
            "data": {"keep": "1", "drop": "2", "shared": "3"},
        }
        apply(http, CONFIGMAPS, cm, "alice")
        apply(http, CONFIGMAPS, {**cm, "data": {"shared": "3"}}, "bob")
        r = apply(http, CONFIGMAPS, {**cm, "data": {"keep": "1"}}, "alice")
        assert r.status_code == 200, r.text
    assert r.json()["data"] == {"keep": "1", "shared": "3"}
    owners = managers(r.json())
    assert owners["alice"]["fieldsV1"] == {"f:data": {"f:keep": {}}}
    assert owners["bob"]["fieldsV1"] == {"f:data": {"f:shared": {}}}


def test_applying_the_same_config_twice_changes_nothing(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        first = apply(http, DEPLOYMENTS, deployment(replicas=2), "kubectl")
        assert first.status_code == 201, first.text
        again = apply(http, DEPLOYMENTS, deployment(replicas=2), "kubectl")
        assert again.status_code == 200, again.text
    assert (
        again.json()["metadata"]["resourceVersion"] == first.json()["metadata"]["resourceVersion"]
    )
    assert again.json()["metadata"]["managedFields"] == first.json()["metadata"]["managedFields"]


def test_two_managers_each_add_a_container_merged_by_name(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        apply(http, DEPLOYMENTS, deployment(containers=[{"name": "web", "image": "nginx:1"}]), "a")
        r = apply(
            http,
            DEPLOYMENTS,
            deployment(containers=[{"name": "side", "image": "busybox"}]),
            "b",
        )
        assert r.status_code == 200, r.text
        both = r.json()["spec"]["template"]["spec"]["containers"]
        assert [c["name"] for c in both] == ["web", "side"]
        owners = managers(r.json())
        pod_fields = owners["b"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
        assert pod_fields == {
            "f:containers": {'k:{"name":"side"}': {".": {}, "f:image": {}, "f:name": {}}}
        }
        # a drops its container: it goes, b's stays
        r = apply(
            http, DEPLOYMENTS, deployment(containers=[{"name": "side", "image": "busybox"}]), "a"
        )
    assert [c["name"] for c in r.json()["spec"]["template"]["spec"]["containers"]] == ["side"]


def test_env_is_merged_by_name(sqlite_api: RunningAPI) -> None:
    def with_env(*pairs: tuple[str, str]) -> dict[str, Any]:
        env = [{"name": k, "value": v} for k, v in pairs]
        return deployment(containers=[{"name": "web", "image": "nginx:1", "env": env}])

    with sqlite_api.http() as http:
        apply(http, DEPLOYMENTS, with_env(("A", "1")), "a")
        r = apply(http, DEPLOYMENTS, with_env(("B", "2")), "b")
        assert r.status_code == 200, r.text
        env = r.json()["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        r = apply(http, DEPLOYMENTS, with_env(("B", "3")), "a")
    assert r.status_code == 409
    assert r.json()["details"]["causes"][0]["field"] == (
        '.spec.template.spec.containers[name="web"].env[name="B"].value'
    )


def test_container_ports_are_keyed_by_port_and_protocol(sqlite_api: RunningAPI) -> None:
    ports = [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]
    with sqlite_api.http() as http:
        r = apply(
            http,
            DEPLOYMENTS,
            deployment(containers=[{"name": "web", "image": "nginx:1", "ports": ports}]),
            "a",
        )
        assert r.status_code == 201, r.text
    container = r.json()["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"][
        "f:spec"
    ]["f:containers"]['k:{"name":"web"}']
    assert set(container["f:ports"]) == {
        'k:{"containerPort":80,"protocol":"TCP"}',
        'k:{"containerPort":53,"protocol":"UDP"}',
    }


def test_every_write_records_its_manager_as_an_update(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        r = http.post(
            CONFIGMAPS,
            params={"fieldManager": "kubectl-create"},
            json={"metadata": {"name": "cm", "labels": {"a": "1"}}, "data": {"x": "1"}},
        )
        created = managers(r.json())["kubectl-create"]
        assert created["operation"] == "Update"
        assert created["fieldsV1"] == {
            "f:data": {".": {}, "f:x": {}},
            "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        }
        # no fieldManager: the client's name from its User-Agent, as Kubernetes
        r = http.patch(
            f"{CONFIGMAPS}/cm",
            headers={**MERGE, "User-Agent": "kubectl-edit/v1.31.0 (linux)"},
            json={"data": {"x": "2", "y": "3"}},
        )
        owners = managers(r.json())
    assert owners["kubectl-edit"]["fieldsV1"] == {"f:data": {"f:x": {}, "f:y": {}}}
    assert owners["kubectl-create"]["fieldsV1"] == {
        "f:data": {},  # the map itself stays its (a member without children: no ".")
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
    }


def test_status_writes_are_recorded_with_their_subresource(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        http.post(DEPLOYMENTS, params={"fieldManager": "me"}, json=deployment())
        r = http.patch(
            f"{DEPLOYMENTS}/web/status",
            params={"fieldManager": "controller"},
            headers=MERGE,
            json={"status": {"replicas": 1}},
        )
        assert r.status_code == 200, r.text
        entry = managers(r.json())["controller"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_managed_fields_are_reset_by_an_empty_list_and_checked(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        http.post(
            CONFIGMAPS,
            params={"fieldManager": "me"},
            json={"metadata": {"name": "cm"}, "data": {"x": "1"}},
        )
        bad = http.patch(
            f"{CONFIGMAPS}/cm",
            headers=MERGE,
            json={
                "metadata": {
                    "managedFields": [
                        {
                            "manager": "x",
                            "operation": "Delete",
                            "fieldsType": "FieldsV1",
                            "fieldsV1": {},
                        }
                    ]
                }
            },
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["details"]["causes"][0]["field"] == "metadata.managedFields[0].operation"
        assert "managedFields" in http.get(f"{CONFIGMAPS}/cm").json()["metadata"]
        r = http.patch(f"{CONFIGMAPS}/cm", headers=MERGE, json={"metadata": {"managedFields": []}})
        assert r.status_code == 200, r.text
        assert "managedFields" not in http.get(f"{CONFIGMAPS}/cm").json()["metadata"]


def test_apply_refuses_managed_fields_and_force_on_other_patches(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "managedFields": [{"manager": "x"}]},
        }
        assert apply(http, CONFIGMAPS, body, "me").status_code == 400
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}})
        r = http.patch(f"{CONFIGMAPS}/cm", params={"force": "true"}, headers=MERGE, json={})
    assert r.status_code == 422
    assert http.get  # the client closed cleanly


def test_a_client_hands_fields_to_another_manager_by_writing_managed_fields(
    sqlite_api: RunningAPI,
) -> None:
    """kubectl's client-side-apply upgrade: a JSON patch rewrites managedFields."""
    with sqlite_api.http() as http:
        r = http.post(
            DEPLOYMENTS,
            params={"fieldManager": "kubectl-client-side-apply"},
            json=deployment(replicas=2),
        )
        entry = managers(r.json())["kubectl-client-side-apply"]
        moved = {**entry, "manager": "kubectl", "operation": "Apply"}
        ops = [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": r.json()["metadata"]["resourceVersion"],
            },
            {"op": "replace", "path": "/metadata/managedFields", "value": [moved]},
        ]
        r = http.patch(f"{DEPLOYMENTS}/web", headers=JSON_PATCH, json=ops)
        assert r.status_code == 200, r.text
        assert list(managers(r.json())) == ["kubectl"]
        # now kubectl's apply owns replicas: changing it is no conflict, dropping it removes it
        r = apply(http, DEPLOYMENTS, deployment(replicas=3), "kubectl")
        assert r.status_code == 200, r.text
        assert r.json()["spec"]["replicas"] == 3


LISTS_CRD = definition(
    "gadgets",
    "Gadget",
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "parts": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
                        },
                    },
                    "tags": {
                        "type": "array",
                        "x-kubernetes-list-type": "set",
                        "items": {"type": "string"},
                    },
                    "order": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    },
)
GADGETS = "/apis/example.com/v1/namespaces/default/gadgets"


def gadget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": spec,
    }


def test_custom_resource_lists_follow_their_schema_list_types(sqlite_api: RunningAPI) -> None:
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    with sqlite_api.http() as http:
        assert http.post(crds, json=LISTS_CRD).status_code == 201
        wait_until(lambda: http.get(GADGETS).status_code == 200, message="gadgets not served")
        r = apply(
            http,
            GADGETS,
            gadget(parts=[{"name": "a", "size": 1}], tags=["x"], order=["1", "2"]),
            "alice",
        )
        assert r.status_code == 201, r.text
        r = apply(
            http,
            GADGETS,
            gadget(parts=[{"name": "b", "size": 2}], tags=["y"], order=["3"]),
            "bob",
            force=True,
        )
        assert r.status_code == 200, r.text
        spec = r.json()["spec"]
        assert spec["parts"] == [{"name": "a", "size": 1}, {"name": "b", "size": 2}]  # map: merged
        assert spec["tags"] == ["x", "y"]  # set: union
        assert spec["order"] == ["3"]  # atomic: replaced, and taken over
        owners = managers(r.json())
    assert owners["bob"]["fieldsV1"]["f:spec"] == {
        "f:parts": {'k:{"name":"b"}': {".": {}, "f:name": {}, "f:size": {}}},
        "f:tags": {'v:"y"': {}},
        "f:order": {},
    }
    assert "f:order" not in owners["alice"]["fieldsV1"]["f:spec"]


def test_more_than_ten_updaters_fold_the_oldest_into_ancient_changes(
    sqlite_api: RunningAPI,
) -> None:
    with sqlite_api.http() as http:
        http.post(CONFIGMAPS, params={"fieldManager": "m0"}, json={"metadata": {"name": "cm"}})
        for i in range(1, 12):
            r = http.patch(
                f"{CONFIGMAPS}/cm",
                params={"fieldManager": f"m{i}"},
                headers=MERGE,
                json={"data": {f"k{i}": "v"}},
            )
            assert r.status_code == 200, r.text
    entries = r.json()["metadata"]["managedFields"]
    assert len(entries) == 10
    assert [e["manager"] for e in entries].count("ancient-changes") == 1
    owned = {k for e in entries for k in e["fieldsV1"].get("f:data", {})}
    assert owned >= {f"f:k{i}" for i in range(1, 12)}


def test_apply_to_the_status_subresource_owns_status_fields_only(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        http.post(DEPLOYMENTS, params={"fieldManager": "me"}, json=deployment())
        body = {**deployment(replicas=7), "status": {"replicas": 1, "readyReplicas": 1}}
        r = http.patch(
            f"{DEPLOYMENTS}/web/status", params={"fieldManager": "ctl"}, headers=APPLY, json=body
        )
        assert r.status_code == 200, r.text
        obj = r.json()
    assert obj["status"]["readyReplicas"] == 1
    assert "replicas" not in obj["spec"] or obj["spec"]["replicas"] != 7
    entry = managers(obj)["ctl"]
    assert (entry["operation"], entry["subresource"]) == ("Apply", "status")
    assert entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}

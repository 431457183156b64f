"""The status, scale and binding subresources."""

from __future__ import annotations

import json
from typing import Any

from support.apiserver import RunningAPI, WatchStream

from orchestrator.api.conditions import condition_status

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def deployment(name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name, "tier": "front"}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "front"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def binding(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


def test_status_put_changes_only_status(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment()).json()
        obj["status"] = {"replicas": 2, "observedGeneration": 1}
        obj["spec"]["replicas"] = 7
        obj["metadata"]["labels"] = {"sneaky": "yes"}
        r = http.put(f"{DEPLOYMENTS}/web/status", json=obj)
        assert r.status_code == 200, r.text
        stored = http.get(f"{DEPLOYMENTS}/web").json()
    assert stored["status"] == {"replicas": 2, "observedGeneration": 1}
    assert stored["spec"]["replicas"] == 2
    assert "labels" not in stored["metadata"]
    assert stored["metadata"]["generation"] == 1


def test_status_patch_changes_only_status(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment())
        r = http.patch(
            f"{DEPLOYMENTS}/web/status",
            headers=MERGE,
            json={"spec": {"replicas": 9}, "status": {"readyReplicas": 1}},
        )
        assert r.status_code == 200, r.text
        stored = http.get(f"{DEPLOYMENTS}/web").json()
    assert stored["status"]["readyReplicas"] == 1
    assert stored["spec"]["replicas"] == 2


def test_get_status_subresource_returns_the_object(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment())
        r = http.get(f"{DEPLOYMENTS}/web/status")
    assert r.status_code == 200
    assert r.json()["kind"] == "Deployment"


def test_main_resource_writes_ignore_status(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=dict(deployment(), status={"replicas": 99})).json()
        assert obj["status"].get("replicas") != 99
        http.patch(f"{DEPLOYMENTS}/web/status", headers=MERGE, json={"status": {"replicas": 2}})
        current = http.get(f"{DEPLOYMENTS}/web").json()
        current["status"] = {"replicas": 42}
        current["spec"]["replicas"] = 3
        r = http.put(f"{DEPLOYMENTS}/web", json=current)
        assert r.json()["status"] == {"replicas": 2}
        r = http.patch(f"{DEPLOYMENTS}/web", headers=MERGE, json={"status": {"replicas": 43}})
        assert r.json()["status"] == {"replicas": 2}
        assert http.get(f"{DEPLOYMENTS}/web").json()["status"] == {"replicas": 2}


def test_status_write_with_stale_version_conflicts(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment()).json()
        http.patch(f"{DEPLOYMENTS}/web", headers=MERGE, json={"spec": {"replicas": 3}})
        obj["status"] = {"replicas": 1}
        r = http.put(f"{DEPLOYMENTS}/web/status", json=obj)
    assert r.status_code == 409
    assert r.json()["reason"] == "Conflict"


def test_get_scale(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment()).json()
        scale = http.get(f"{DEPLOYMENTS}/web/scale").json()
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["metadata"]["uid"] == obj["metadata"]["uid"]
    assert scale["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["replicas"] == 0
    assert scale["status"]["selector"] == "app=web,tier=front"


def test_scale_patches_change_replicas(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment())
        r = http.patch(f"{DEPLOYMENTS}/web/scale", headers=MERGE, json={"spec": {"replicas": 3}})
        assert r.status_code == 200, r.text
        assert r.json()["kind"] == "Scale" and r.json()["spec"]["replicas"] == 3
        r = http.patch(
            f"{DEPLOYMENTS}/web/scale", headers=STRATEGIC, json={"spec": {"replicas": 4}}
        )
        assert r.json()["spec"]["replicas"] == 4
        ops = [{"op": "replace", "path": "/spec/replicas", "value": 5}]
        r = http.patch(f"{DEPLOYMENTS}/web/scale", headers=JSON_PATCH, content=json.dumps(ops))
        assert r.json()["spec"]["replicas"] == 5
        dep = http.get(f"{DEPLOYMENTS}/web").json()
    assert dep["spec"]["replicas"] == 5
    assert dep["metadata"]["generation"] == 4
    assert dep["metadata"]["resourceVersion"] == r.json()["metadata"]["resourceVersion"]


def test_scale_put_with_current_version_then_stale_version(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment())
        scale = http.get(f"{DEPLOYMENTS}/web/scale").json()
        scale["spec"]["replicas"] = 6
        r = http.put(f"{DEPLOYMENTS}/web/scale", content=json.dumps(scale))
        assert r.status_code == 200, r.text
        assert r.json()["spec"]["replicas"] == 6
        scale["spec"]["replicas"] = 1
        r = http.put(f"{DEPLOYMENTS}/web/scale", json=scale)
        assert r.status_code == 409
        assert r.json()["reason"] == "Conflict"
        assert http.get(f"{DEPLOYMENTS}/web").json()["spec"]["replicas"] == 6


def test_negative_scale_is_invalid(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment())
        r = http.patch(f"{DEPLOYMENTS}/web/scale", headers=MERGE, json={"spec": {"replicas": -1}})
    assert r.status_code == 422


def test_scale_of_missing_deployment_is_not_found(api: RunningAPI) -> None:
    with api.http() as http:
        r = http.get(f"{DEPLOYMENTS}/ghost/scale")
    assert r.status_code == 404
    assert r.json()["message"] == 'deployments.apps "ghost" not found'


def test_scaling_is_seen_by_watchers_of_the_deployment(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(DEPLOYMENTS, json=deployment()).json()
        with WatchStream(
            http, DEPLOYMENTS, {"resourceVersion": obj["metadata"]["resourceVersion"]}
        ) as w:
            http.patch(f"{DEPLOYMENTS}/web/scale", headers=MERGE, json={"spec": {"replicas": 3}})
            event = w.next()
    assert event["type"] == "MODIFIED"
    assert event["object"]["kind"] == "Deployment"
    assert event["object"]["spec"]["replicas"] == 3


def test_replicaset_scale(api: RunningAPI) -> None:
    rs = deployment("rs")
    rs["kind"] = "ReplicaSet"
    with api.http() as http:
        r = http.post("/apis/apps/v1/namespaces/default/replicasets", json=rs)
        assert r.status_code == 201, r.text
        assert r.json()["status"]["replicas"] == 0
        r = http.patch(
            "/apis/apps/v1/namespaces/default/replicasets/rs/scale",
            headers=MERGE,
            json={"spec": {"replicas": 0}},
        )
    assert r.json()["spec"]["replicas"] == 0


def test_binding_assigns_the_node(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(PODS, json=pod("p"))
        r = http.post(f"{PODS}/p/binding", json=binding("p", "node-1"))
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "Success"
        stored = http.get(f"{PODS}/p").json()
    assert stored["spec"]["nodeName"] == "node-1"
    assert condition_status(stored, "PodScheduled") == "True"


def test_second_binding_conflicts(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(PODS, json=pod("p"))
        http.post(f"{PODS}/p/binding", json=binding("p", "node-1"))
        r = http.post(f"{PODS}/p/binding", json=binding("p", "node-2"))
        assert r.status_code == 409
        assert r.json()["reason"] == "Conflict"
        assert http.get(f"{PODS}/p").json()["spec"]["nodeName"] == "node-1"


def test_binding_without_target_is_invalid(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(PODS, json=pod("p"))
        r = http.post(f"{PODS}/p/binding", json={"kind": "Binding", "metadata": {"name": "p"}})
        assert r.status_code == 422
        assert http.post(f"{PODS}/ghost/binding", json=binding("ghost", "n")).status_code == 404


def test_pod_spec_node_name_cannot_change_by_update(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(PODS, json=pod("p"))
        http.post(f"{PODS}/p/binding", json=binding("p", "node-1"))
        r = http.patch(f"{PODS}/p", headers=MERGE, json={"spec": {"nodeName": "node-2"}})
    assert r.status_code == 422

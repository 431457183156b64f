"""Deletion: finalizers, propagation policies, graceful pods, collections, namespaces."""

from __future__ import annotations

from typing import Any

import pytest
from support.apiserver import RunningAPI, WatchStream

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
SERVICES = "/api/v1/namespaces/default/services"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
MERGE = {"Content-Type": "application/merge-patch+json"}


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def deployment(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def test_finalizers_keep_the_object_until_removed(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(
            CONFIGMAPS, json={"metadata": {"name": "cm", "finalizers": ["example.com/a"]}}
        ).json()
        with WatchStream(
            http, CONFIGMAPS, {"resourceVersion": obj["metadata"]["resourceVersion"]}
        ) as w:
            r = http.delete(f"{CONFIGMAPS}/cm")
            assert r.status_code in (200, 202)
            assert r.json()["metadata"]["deletionTimestamp"]
            terminating = http.get(f"{CONFIGMAPS}/cm").json()
            assert terminating["metadata"]["deletionTimestamp"]
            assert w.next()["type"] == "MODIFIED"
            # Deleting again changes nothing while the finalizer stays.
            again = http.delete(f"{CONFIGMAPS}/cm").json()
            assert (
                again["metadata"]["resourceVersion"] == terminating["metadata"]["resourceVersion"]
            )
            r = http.patch(
                f"{CONFIGMAPS}/cm", headers=MERGE, json={"metadata": {"finalizers": None}}
            )
            assert r.status_code == 200, r.text
            event = w.next()
            assert event["type"] == "DELETED"
            assert event["object"]["metadata"]["name"] == "cm"
            assert http.get(f"{CONFIGMAPS}/cm").status_code == 404


def test_finalizers_go_one_at_a_time_and_none_are_added(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm", "finalizers": ["a", "b"]}})
        http.delete(f"{CONFIGMAPS}/cm")
        r = http.patch(
            f"{CONFIGMAPS}/cm", headers=MERGE, json={"metadata": {"finalizers": ["a", "b", "c"]}}
        )
        assert r.status_code == 422
        assert r.json()["details"]["causes"][0]["field"] == "metadata.finalizers"
        r = http.patch(f"{CONFIGMAPS}/cm", headers=MERGE, json={"metadata": {"finalizers": ["b"]}})
        assert r.status_code == 200
        assert http.get(f"{CONFIGMAPS}/cm").json()["metadata"]["finalizers"] == ["b"]
        cur = http.get(f"{CONFIGMAPS}/cm").json()
        cur["metadata"]["finalizers"] = []
        assert http.put(f"{CONFIGMAPS}/cm", json=cur).status_code == 200
        assert http.get(f"{CONFIGMAPS}/cm").status_code == 404


@pytest.mark.parametrize(
    ("policy", "finalizer"), [("Orphan", "orphan"), ("Foreground", "foregroundDeletion")]
)
def test_propagation_policy_adds_its_finalizer(
    api: RunningAPI, policy: str, finalizer: str
) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment("web"))
        r = http.delete(f"{DEPLOYMENTS}/web", params={"propagationPolicy": policy})
        assert r.status_code in (200, 202)
        stored = http.get(f"{DEPLOYMENTS}/web").json()
        assert stored["metadata"]["finalizers"] == [finalizer]
        assert stored["metadata"]["deletionTimestamp"]
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}})
        r = http.request("DELETE", f"{CONFIGMAPS}/cm", json={"propagationPolicy": policy})
        assert http.get(f"{CONFIGMAPS}/cm").json()["metadata"]["finalizers"] == [finalizer]


def test_background_propagation_deletes_at_once(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(DEPLOYMENTS, json=deployment("web"))
        r = http.request("DELETE", f"{DEPLOYMENTS}/web", json={"propagationPolicy": "Background"})
        assert r.status_code == 200
        assert http.get(f"{DEPLOYMENTS}/web").status_code == 404


def test_bad_propagation_policy_is_bad_request(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}})
        r = http.delete(f"{CONFIGMAPS}/cm", params={"propagationPolicy": "Sideways"})
        assert r.status_code == 400
        assert http.get(f"{CONFIGMAPS}/cm").status_code == 200


def test_unbound_pod_goes_at_once(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(PODS, json=pod("p"))
        assert http.delete(f"{PODS}/p").status_code == 200
        assert http.get(f"{PODS}/p").status_code == 404


def test_bound_pod_is_deleted_gracefully(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(PODS, json=pod("p"))
        http.post(f"{PODS}/p/binding", json={"target": {"kind": "Node", "name": "n1"}})
        bound = http.get(f"{PODS}/p").json()
        with WatchStream(
            http, PODS, {"resourceVersion": bound["metadata"]["resourceVersion"]}
        ) as w:
            r = http.delete(f"{PODS}/p")
            assert r.status_code in (200, 202)
            terminating = http.get(f"{PODS}/p").json()
            assert terminating["metadata"]["deletionTimestamp"]
            assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
            assert w.next()["type"] == "MODIFIED"
            r = http.delete(f"{PODS}/p", params={"gracePeriodSeconds": "0"})
            assert r.status_code == 200
            assert w.next()["type"] == "DELETED"
            assert http.get(f"{PODS}/p").status_code == 404


def test_bound_pod_with_grace_zero_in_delete_options_goes_at_once(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(PODS, json=pod("p"))
        http.post(f"{PODS}/p/binding", json={"target": {"kind": "Node", "name": "n1"}})
        r = http.request(
            "DELETE",
            f"{PODS}/p",
            json={"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0},
        )
        assert r.status_code == 200
        assert http.get(f"{PODS}/p").status_code == 404


def test_delete_with_stale_precondition_conflicts(api: RunningAPI) -> None:
    with api.http() as http:
        obj = http.post(CONFIGMAPS, json={"metadata": {"name": "cm"}}).json()
        r = http.request(
            "DELETE", f"{CONFIGMAPS}/cm", json={"preconditions": {"uid": "not-the-uid"}}
        )
        assert r.status_code == 409
        r = http.request(
            "DELETE", f"{CONFIGMAPS}/cm", json={"preconditions": {"uid": obj["metadata"]["uid"]}}
        )
        assert r.status_code == 200


def test_delete_collection_with_label_selector(api: RunningAPI) -> None:
    with api.http() as http:
        for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
            http.post(CONFIGMAPS, json={"metadata": {"name": name, "labels": {"app": app}}})
        r = http.delete(CONFIGMAPS, params={"labelSelector": "app=web"})
        assert r.status_code == 200
        assert r.json()["kind"] == "ConfigMapList"
        assert {o["metadata"]["name"] for o in r.json()["items"]} == {"a", "b"}
        left = http.get(CONFIGMAPS).json()["items"]
    assert [o["metadata"]["name"] for o in left] == ["c"]


def test_delete_collection_dry_run_deletes_nothing(api: RunningAPI) -> None:
    with api.http() as http:
        http.post(CONFIGMAPS, json={"metadata": {"name": "a"}})
        r = http.delete(CONFIGMAPS, params={"dryRun": "All"})
        assert r.status_code == 200
        assert len(http.get(CONFIGMAPS).json()["items"]) == 1


@pytest.mark.parametrize("name", ["default", "kube-system"])
def test_system_namespaces_cannot_be_deleted(api: RunningAPI, name: str) -> None:
    with api.http() as http:
        r = http.delete(f"/api/v1/namespaces/{name}")
        assert r.status_code == 403
        assert r.json()["reason"] == "Forbidden"
        ns = http.get(f"/api/v1/namespaces/{name}").json()
    assert "deletionTimestamp" not in ns["metadata"]
    assert ns["status"]["phase"] == "Active"


def test_creating_in_a_terminating_namespace_is_forbidden(api: RunningAPI) -> None:
    with api.http() as http:
        http.post("/api/v1/namespaces", json={"metadata": {"name": "doomed"}})
        r = http.delete("/api/v1/namespaces/doomed")
        assert r.status_code in (200, 202)
        ns = http.get("/api/v1/namespaces/doomed").json()
        assert ns["status"]["phase"] == "Terminating"
        assert ns["metadata"]["deletionTimestamp"]
        r = http.post("/api/v1/namespaces/doomed/configmaps", json={"metadata": {"name": "x"}})
        assert r.status_code == 403
        assert r.json()["reason"] == "Forbidden"
        assert "doomed" in r.json()["message"]


def test_deleting_a_service_frees_its_cluster_ip_and_node_ports(api: RunningAPI) -> None:
    svc = {
        "metadata": {"name": "a"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30111}]},
    }
    with api.http() as http:
        ip = http.post(SERVICES, json=svc).json()["spec"]["clusterIP"]
        clash = {
            "metadata": {"name": "b"},
            "spec": {
                "clusterIP": ip,
                "type": "NodePort",
                "ports": [{"port": 80, "nodePort": 30111}],
            },
        }
        r = http.post(SERVICES, json=clash)
        assert r.status_code == 422
        assert http.delete(f"{SERVICES}/a").status_code == 200
        r = http.post(SERVICES, json=clash)
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["clusterIP"] == ip
    assert r.json()["spec"]["ports"][0]["nodePort"] == 30111


def test_changing_service_type_frees_node_ports(api: RunningAPI) -> None:
    svc = {
        "metadata": {"name": "a"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30222}]},
    }
    with api.http() as http:
        http.post(SERVICES, json=svc)
        r = http.patch(f"{SERVICES}/a", headers=MERGE, json={"spec": {"type": "ClusterIP"}})
        assert r.status_code == 200, r.text
        assert "nodePort" not in r.json()["spec"]["ports"][0]
        svc["metadata"]["name"] = "b"
        assert http.post(SERVICES, json=svc).status_code == 201

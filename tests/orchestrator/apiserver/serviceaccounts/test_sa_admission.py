"""ServiceAccount admission on Pod create, against a real API server."""

from __future__ import annotations

from typing import Any

import httpx
from support.apiserver import RunningAPI

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def post_pod(http: httpx.Client, ns: str, spec: dict[str, Any], name: str = "p") -> httpx.Response:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    return http.post(f"/api/v1/namespaces/{ns}/pods", json=body)


def containers(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "image": "paas/stack"} for n in names]


def test_pod_runs_as_default_with_the_token_volume_mounted_everywhere(
    sqlite_api: RunningAPI,
) -> None:
    with sqlite_api.http() as http:
        spec = {"initContainers": containers("init"), "containers": containers("a", "b")}
        r = post_pod(http, "default", spec)
        assert r.status_code == 201, r.text
        pod = r.json()["spec"]
        assert pod["serviceAccountName"] == pod["serviceAccount"] == "default"
        [volume] = pod["volumes"]
        assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == 21
        assert volume["projected"] == {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        }
        for c in pod["initContainers"] + pod["containers"]:
            assert c["volumeMounts"] == [
                {"name": volume["name"], "readOnly": True, "mountPath": MOUNT}
            ]
        # What the pod needs was made with it: the account and the CA ConfigMap.
        assert http.get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200
        cm = http.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt").json()
        assert cm["data"]["ca.crt"] == sqlite_api.ca.read_text()


def test_missing_named_account_is_refused_and_nothing_is_created(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        r = post_pod(http, "default", {"containers": containers("a"), "serviceAccountName": "x"})
        assert r.status_code == 403
        assert r.json()["message"] == (
            'pods "p" is forbidden: error looking up service account default/x: '
            'serviceaccount "x" not found'
        )
        assert http.get("/api/v1/namespaces/default/pods/p").status_code == 404


def test_automount_off_on_the_pod_or_the_account_adds_no_volume(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        body = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "quiet"},
            "automountServiceAccountToken": False,
            "imagePullSecrets": [{"name": "regcred"}],
        }
        assert http.post("/api/v1/namespaces/default/serviceaccounts", json=body).status_code == 201
        spec = {"containers": containers("a"), "serviceAccountName": "quiet"}
        pod = post_pod(http, "default", spec, "by-account").json()["spec"]
        assert "volumes" not in pod and "volumeMounts" not in pod["containers"][0]
        assert pod["imagePullSecrets"] == [{"name": "regcred"}]
        spec = {"containers": containers("a"), "automountServiceAccountToken": False}
        pod = post_pod(http, "default", spec, "by-pod").json()["spec"]
        assert "volumes" not in pod
        # The pod's own true wins over the account's false.
        spec = {
            "containers": containers("a"),
            "serviceAccountName": "quiet",
            "automountServiceAccountToken": True,
        }
        pod = post_pod(http, "default", spec, "pod-wins").json()["spec"]
        assert pod["volumes"][0]["name"].startswith("kube-api-access-")


def test_container_mounting_the_path_itself_is_left_alone(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        spec = {
            "containers": [
                {
                    "name": "own",
                    "image": "paas/stack",
                    "volumeMounts": [{"name": "mine", "mountPath": MOUNT}],
                },
                {"name": "plain", "image": "paas/stack"},
            ],
            "volumes": [{"name": "mine", "emptyDir": {}}],
        }
        pod = post_pod(http, "default", spec).json()["spec"]
        own, plain = pod["containers"]
        assert own["volumeMounts"] == [{"name": "mine", "mountPath": MOUNT}]
        assert plain["volumeMounts"][0]["name"].startswith("kube-api-access-")
        assert len(pod["volumes"]) == 2


def test_dry_run_pod_creates_no_account(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}
        assert http.post("/api/v1/namespaces", json=ns).status_code == 201
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
        body["spec"] = {"containers": containers("a")}
        r = http.post("/api/v1/namespaces/fresh/pods?dryRun=All", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["spec"]["serviceAccountName"] == "default"
        assert http.get("/api/v1/namespaces/fresh/serviceaccounts/default").status_code == 404

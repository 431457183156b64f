"""Owner references to and from custom objects, collected by the real controller-manager.

A ``paas controller-manager`` process (every controller, discovery re-read
every 0.2 s so that it learns the custom kind quickly) runs against the test
API server on both stores; kubectl does what a user does: define a Widget
kind, give a Widget a ConfigMap and a Deployment (whose ReplicaSet and Pods
the Deployment and ReplicaSet controllers then make), delete the Widget with
each cascade mode, and delete the CRD itself while its Widgets own core
objects. The other direction too: a ConfigMap owning Widgets. What is
checked is what ``kubectl get`` shows afterwards.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.apiserver import RunningAPI
from support.components import ComponentProcesses
from support.wait import wait_until

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
"""
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
REPLICASETS = "/apis/apps/v1/namespaces/default/replicasets"
PODS = "/api/v1/namespaces/default/pods"
CASCADE_TIMEOUT = 30.0  # a background chain Widget -> Deployment -> ReplicaSet -> Pods


@pytest.fixture
def controller_manager(api: RunningAPI, tmp_path: Path) -> Iterator[ComponentProcesses]:
    procs = ComponentProcesses(api, tmp_path)
    procs.start("controller-manager", "--discovery-interval=0.2")
    try:
        yield procs
    finally:
        procs.stop_all()


def apply(kubectl: Kubectl, tmp_path: Path, *objects: dict[str, Any]) -> None:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    kubectl("apply", "-f", str(path))


def define_widgets(kubectl: Kubectl, tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(WIDGET_CRD)
    kubectl("apply", "-f", str(tmp_path / "crd.yaml"))
    kubectl("wait", "--for=condition=established", "--timeout=10s", "crd/widgets.example.com")


def owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def widget(name: str, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"family": "w"}}
    if owners:
        meta["ownerReferences"] = owners
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta, "spec": {"size": 1}}


def configmap(name: str, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"family": "w"}}
    if owners:
        meta["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def deployment(name: str, owners: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"family": "w"}, "ownerReferences": owners},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }


def get(kubectl: Kubectl, kind: str, name: str) -> dict[str, Any]:
    return json.loads(kubectl("get", kind, name, "-o", "json").stdout)


def names(api: RunningAPI, path: str, selector: str = "") -> list[str]:
    """Names of the objects at ``path`` now (a 404 for an unserved kind counts as none)."""
    with api.http() as http:
        r = http.get(path, params={"labelSelector": selector} if selector else None)
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return sorted(o["metadata"]["name"] for o in r.json()["items"])


def read(api: RunningAPI, path: str) -> dict[str, Any] | None:
    with api.http() as http:
        r = http.get(path)
    return r.json() if r.status_code == 200 else None


def a_widget_with_dependents(kubectl: Kubectl, api: RunningAPI, tmp_path: Path) -> None:
    """Widget ``w`` owning ConfigMap ``w-config`` and Deployment ``w-web``, rolled out."""
    define_widgets(kubectl, tmp_path)
    apply(kubectl, tmp_path, widget("w"))
    owner = [owner_ref(get(kubectl, "widget", "w"))]
    apply(kubectl, tmp_path, configmap("w-config", owner), deployment("w-web", owner))
    # the controller-manager is at work: the Deployment's ReplicaSet and Pod appear
    wait_until(lambda: names(api, PODS, "app=w-web"), CASCADE_TIMEOUT, "the Deployment's pod")


def nothing_left_of_w_web(api: RunningAPI) -> bool:
    return not any(
        [
            names(api, CONFIGMAPS, "family=w"),
            names(api, DEPLOYMENTS, "family=w"),
            names(api, REPLICASETS, "app=w-web"),
            names(api, PODS, "app=w-web"),
        ]
    )


def test_deleting_a_custom_owner_in_the_background_collects_its_core_dependents(
    api: RunningAPI, kubectl: Kubectl, controller_manager: ComponentProcesses, tmp_path: Path
) -> None:
    a_widget_with_dependents(kubectl, api, tmp_path)
    out = kubectl("delete", "widget", "w").stdout
    assert 'widget.example.com "w" deleted' in out
    assert names(api, WIDGETS) == []  # background: the owner goes at once
    wait_until(lambda: nothing_left_of_w_web(api), CASCADE_TIMEOUT, "dependents collected")


def test_deleting_a_custom_owner_in_the_foreground_waits_for_its_dependents(
    api: RunningAPI, kubectl: Kubectl, controller_manager: ComponentProcesses, tmp_path: Path
) -> None:
    a_widget_with_dependents(kubectl, api, tmp_path)
    # a finalizer of the user's holds the ConfigMap, and so the Widget, until removed
    kubectl(
        "patch",
        "configmap",
        "w-config",
        "--type=merge",
        "-p",
        '{"metadata": {"finalizers": ["example.com/hold"]}}',
    )
    kubectl("delete", "widget", "w", "--cascade=foreground", "--wait=false")

    def held() -> bool:
        cm = read(api, f"{CONFIGMAPS}/w-config")
        gone = not names(api, DEPLOYMENTS, "family=w") and not names(api, PODS, "app=w-web")
        return bool(cm and cm["metadata"].get("deletionTimestamp")) and gone

    wait_until(held, CASCADE_TIMEOUT, "the Deployment gone and the ConfigMap being deleted")
    terminating = get(kubectl, "widget", "w")
    assert terminating["metadata"]["deletionTimestamp"]
    assert terminating["metadata"]["finalizers"] == ["foregroundDeletion"]

    kubectl(
        "patch", "configmap", "w-config", "--type=merge", "-p", '{"metadata": {"finalizers": null}}'
    )
    wait_until(lambda: not names(api, WIDGETS), CASCADE_TIMEOUT, "the Widget gone last")
    assert nothing_left_of_w_web(api)


def test_deleting_a_custom_owner_with_orphan_leaves_its_dependents_without_the_reference(
    api: RunningAPI, kubectl: Kubectl, controller_manager: ComponentProcesses, tmp_path: Path
) -> None:
    a_widget_with_dependents(kubectl, api, tmp_path)
    kubectl("delete", "widget", "w", "--cascade=orphan")
    assert names(api, WIDGETS) == []  # kubectl waited for the orphan finalizer to be done
    cm = get(kubectl, "configmap", "w-config")
    web = get(kubectl, "deployment", "w-web")
    assert "ownerReferences" not in cm["metadata"]
    assert "ownerReferences" not in web["metadata"]
    assert names(api, PODS, "app=w-web")  # the Deployment's own chain is untouched


def test_deleting_the_crd_deletes_its_objects_and_what_they_own(
    api: RunningAPI, kubectl: Kubectl, controller_manager: ComponentProcesses, tmp_path: Path
) -> None:
    a_widget_with_dependents(kubectl, api, tmp_path)
    apply(kubectl, tmp_path, widget("v"))
    apply(kubectl, tmp_path, configmap("v-config", [owner_ref(get(kubectl, "widget", "v"))]))
    out = kubectl("delete", "crd", "widgets.example.com", "--timeout=30s").stdout
    assert 'customresourcedefinition.apiextensions.k8s.io "widgets.example.com" deleted' in out
    gone = kubectl("get", "crd", "widgets.example.com", check=False)
    assert 'customresourcedefinitions.apiextensions.k8s.io "widgets.example.com" not found' in (
        gone.stderr
    )
    wait_until(lambda: nothing_left_of_w_web(api), CASCADE_TIMEOUT, "owned objects collected")
    # defined again, the kind starts empty
    define_widgets(kubectl, tmp_path)
    assert names(api, WIDGETS) == []


@pytest.mark.parametrize(
    ("cascade", "kept"), [("background", False), ("foreground", False), ("orphan", True)]
)
def test_a_configmap_owning_custom_objects_cascades_to_them(
    api: RunningAPI,
    kubectl: Kubectl,
    controller_manager: ComponentProcesses,
    tmp_path: Path,
    cascade: str,
    kept: bool,
) -> None:
    define_widgets(kubectl, tmp_path)
    apply(kubectl, tmp_path, configmap("parent"))
    owner = [owner_ref(get(kubectl, "configmap", "parent"))]
    apply(kubectl, tmp_path, widget("a", owner), widget("b", owner))
    kubectl("delete", "configmap", "parent", f"--cascade={cascade}", "--timeout=30s")
    assert read(api, f"{CONFIGMAPS}/parent") is None
    if kept:
        listed = json.loads(kubectl("get", "widgets", "-o", "json").stdout)["items"]
        assert [w["metadata"]["name"] for w in listed] == ["a", "b"]
        assert all("ownerReferences" not in w["metadata"] for w in listed)
    else:
        wait_until(lambda: not names(api, WIDGETS), CASCADE_TIMEOUT, "the Widgets collected")
        no = kubectl("get", "widgets")
        assert no.stderr.strip() == "No resources found in default namespace."

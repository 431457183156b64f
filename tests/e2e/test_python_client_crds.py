"""Custom resources through the official ``kubernetes`` Python package, on both stores.

An operator written in Python reaches custom kinds in two ways: the typed
``ApiextensionsV1Api`` and ``CustomObjectsApi`` (plain dicts in and out), and
``dynamic.DynamicClient``, which finds the kind by discovery. Both are used
here as the package documents them, against a Gadget kind with defaults,
a label selector to list by, and the status subresource.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException
from support.apiserver import RunningAPI

NS = "default"
GROUP, VERSION, PLURAL = "example.com", "v1", "gadgets"
GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["colour"],
                                "properties": {
                                    "colour": {"type": "string", "enum": ["red", "blue"]},
                                    "size": {"type": "integer", "default": 3},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
def api_client(api: RunningAPI) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(api.kubeconfig))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def gadgets_defined(api_client: client.ApiClient) -> client.V1CustomResourceDefinition:
    """The Gadget CRD created with ``ApiextensionsV1Api`` and read back once Established."""
    ext = client.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(GADGET_CRD)
    deadline = time.monotonic() + 10
    while True:
        crd = ext.read_custom_resource_definition("gadgets.example.com")
        conditions = {c.type: c.status for c in crd.status.conditions or []}
        if conditions.get("Established") == "True":
            return crd
        assert time.monotonic() < deadline, f"not established: {crd.status}"
        time.sleep(0.05)  # the polling interval


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


def gadget(name: str, colour: str = "red", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gadget",
        "metadata": {"name": name, "labels": labels},
        "spec": {"colour": colour},
    }


def test_the_typed_crd_model_reads_what_the_server_stores(
    gadgets_defined: client.V1CustomResourceDefinition, api_client: client.ApiClient
) -> None:
    crd = gadgets_defined
    assert crd.spec.names.kind == "Gadget"
    assert crd.status.accepted_names.plural == "gadgets"
    assert crd.status.stored_versions == ["v1"]
    listed = client.ApiextensionsV1Api(api_client).list_custom_resource_definition()
    assert [c.metadata.name for c in listed.items] == ["gadgets.example.com"]


def test_custom_objects_api_creates_reads_patches_lists_and_deletes(
    gadgets_defined: client.V1CustomResourceDefinition, custom: client.CustomObjectsApi
) -> None:
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, gadget("one", team="a")
    )
    assert created["spec"] == {"colour": "red", "size": 3}  # defaulted
    assert created["metadata"]["generation"] == 1
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, gadget("two", team="b"))

    read = custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "one")
    assert read["metadata"]["uid"] == created["metadata"]["uid"]

    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "one", {"spec": {"colour": "blue"}}
    )
    assert patched["spec"] == {"colour": "blue", "size": 3}
    assert patched["metadata"]["generation"] == 2

    status = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NS, PLURAL, "one", {"status": {"phase": "Ready"}}
    )
    assert status["status"] == {"phase": "Ready"}
    assert status["metadata"]["generation"] == 2  # status does not move the generation
    got = custom.get_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, "one")
    assert got["status"]["phase"] == "Ready"

    team_a = custom.list_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, label_selector="team=a"
    )
    assert team_a["kind"] == "GadgetList"
    assert [g["metadata"]["name"] for g in team_a["items"]] == ["one"]
    everywhere = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert [g["metadata"]["name"] for g in everywhere["items"]] == ["one", "two"]

    done = custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "one")
    assert done["metadata"]["name"] == "one"  # a custom object is returned as it was deleted
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "one")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == 'gadgets.example.com "one" not found'


def test_an_invalid_custom_object_is_refused_with_the_field_and_reason(
    gadgets_defined: client.V1CustomResourceDefinition, custom: client.CustomObjectsApi
) -> None:
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, PLURAL, gadget("bad", colour="green")
        )
    assert refused.value.status == 422
    status = json.loads(refused.value.body)
    assert status["message"] == (
        'Gadget.example.com "bad" is invalid: spec.colour: Unsupported value: "green": '
        'supported values: "red", "blue"'
    )
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.colour"]


def test_the_dynamic_client_finds_the_custom_kind_and_gets_creates_patches_lists(
    gadgets_defined: client.V1CustomResourceDefinition, api_client: client.ApiClient
) -> None:
    dyn = dynamic.DynamicClient(api_client)
    gadgets = dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind="Gadget")
    assert gadgets.namespaced and gadgets.name == "gadgets"

    created = gadgets.create(body=gadget("one", team="a"), namespace=NS)
    assert created.spec.size == 3
    gadgets.create(body=gadget("two", team="b"), namespace=NS)

    one = gadgets.get(name="one", namespace=NS)
    assert one.spec.colour == "red"
    patched = gadgets.patch(
        name="one",
        namespace=NS,
        body={"spec": {"size": 5}},
        content_type="application/merge-patch+json",
    )
    assert patched.spec.size == 5
    status = gadgets.status.patch(
        name="one",
        namespace=NS,
        body={"status": {"phase": "Ready"}},
        content_type="application/merge-patch+json",
    )
    assert status.status.phase == "Ready"

    listed = gadgets.get(namespace=NS, label_selector="team=b")
    assert [g.metadata.name for g in listed.items] == ["two"]
    assert gadgets.get(namespace=NS).kind == "GadgetList"
    gadgets.delete(name="two", namespace=NS)
    assert [g.metadata.name for g in gadgets.get(namespace=NS).items] == ["one"]


def test_the_dynamic_client_watches_a_custom_kind(
    gadgets_defined: client.V1CustomResourceDefinition, api_client: client.ApiClient
) -> None:
    dyn = dynamic.DynamicClient(api_client)
    gadgets = dyn.resources.get(api_version=f"{GROUP}/{VERSION}", kind="Gadget")
    gadgets.create(body=gadget("existing"), namespace=NS)
    failures: list[BaseException] = []

    def make_changes() -> None:
        try:
            gadgets.create(body=gadget("new"), namespace=NS)
            gadgets.patch(
                name="new",
                namespace=NS,
                body={"spec": {"colour": "blue"}},
                content_type="application/merge-patch+json",
            )
            gadgets.delete(name="new", namespace=NS)
        except BaseException as exc:
            failures.append(exc)

    seen: list[tuple[str, str, str]] = []
    worker: threading.Thread | None = None
    for event in gadgets.watch(namespace=NS, timeout=20):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name, obj.spec.colour))
        if worker is None:  # the stream is open: now change things
            worker = threading.Thread(target=make_changes)
            worker.start()
        if event["type"] == "DELETED":
            break
    assert worker is not None
    worker.join(10)
    assert not failures, failures
    assert seen == [
        ("ADDED", "existing", "red"),
        ("ADDED", "new", "red"),
        ("MODIFIED", "new", "blue"),
        ("DELETED", "new", "blue"),
    ]

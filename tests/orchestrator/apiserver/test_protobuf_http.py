"""Protobuf bodies and answers over HTTP, as kubectl 1.32+ sends and reads them."""

from __future__ import annotations

import httpx
import pytest
from support.apiserver import RunningAPI
from support.crds import CRDS, definition
from support.wait import wait_until

from orchestrator.api.protobuf import decode_object, encode_object

PB = "application/vnd.kubernetes.protobuf"
KUBECTL_133 = {"Content-Type": PB, "Accept": f"{PB},application/json"}
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cm1", "namespace": "default"},
    "data": {"a": "b"},
}


def _names(http: httpx.Client, path: str) -> list[str]:
    return [i["metadata"]["name"] for i in http.get(path).json()["items"]]


def test_protobuf_create_is_stored_and_answered_in_json_by_default(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        r = http.post(CONFIGMAPS, content=encode_object(CM), headers={"Content-Type": PB})
        assert r.status_code == 201, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json()["data"] == {"a": "b"}
        stored = http.get(f"{CONFIGMAPS}/cm1").json()
        assert stored["data"] == {"a": "b"} and stored["metadata"]["uid"]


def test_client_preferring_protobuf_gets_protobuf_objects_and_lists(
    sqlite_api: RunningAPI,
) -> None:
    with sqlite_api.http() as http:
        r = http.post(CONFIGMAPS, content=encode_object(CM), headers=KUBECTL_133)
        assert r.status_code == 201, r.text
        assert r.headers["content-type"] == PB
        created = decode_object(r.content)
        assert created == http.get(f"{CONFIGMAPS}/cm1").json()

        got = http.get(f"{CONFIGMAPS}/cm1", headers={"Accept": KUBECTL_133["Accept"]})
        assert got.headers["content-type"] == PB
        assert decode_object(got.content) == created

        listed = http.get(CONFIGMAPS, headers={"Accept": PB})
        assert listed.headers["content-type"] == PB
        items = decode_object(listed.content)["items"]
        assert [i["metadata"]["name"] for i in items] == ["cm1"]

        table = http.get(
            CONFIGMAPS,
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
        )
        assert table.json()["kind"] == "Table"


def test_protobuf_update_replaces_the_object(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        created = http.post(CONFIGMAPS, json=CM).json()
        changed = {**created, "data": {"a": "changed"}}
        r = http.put(f"{CONFIGMAPS}/cm1", content=encode_object(changed), headers=KUBECTL_133)
        assert r.status_code == 200, r.text
        assert decode_object(r.content)["data"] == {"a": "changed"}
        assert http.get(f"{CONFIGMAPS}/cm1").json()["data"] == {"a": "changed"}


def test_protobuf_scale_and_binding_bodies_are_read(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d1"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "d1"}},
                "template": {
                    "metadata": {"labels": {"app": "d1"}},
                    "spec": {"containers": [{"name": "x", "image": "x"}]},
                },
            },
        }
        deployments = "/apis/apps/v1/namespaces/default/deployments"
        assert http.post(deployments, json=deployment).status_code == 201
        scale = http.get(f"{deployments}/d1/scale").json()
        scale["spec"]["replicas"] = 4
        r = http.put(f"{deployments}/d1/scale", content=encode_object(scale), headers=KUBECTL_133)
        assert r.status_code == 200, r.text
        assert http.get(f"{deployments}/d1").json()["spec"]["replicas"] == 4

        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p1"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        }
        assert http.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "p1"},
            "target": {"kind": "Node", "name": "node-1"},
        }
        r = http.post(
            "/api/v1/namespaces/default/pods/p1/binding",
            content=encode_object(binding),
            headers={"Content-Type": PB},
        )
        assert r.status_code == 201, r.text
        assert http.get("/api/v1/namespaces/default/pods/p1").json()["spec"]["nodeName"] == "node-1"

        pod["metadata"]["name"] = binding["metadata"]["name"] = "p2"
        assert http.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
        r = http.post(  # the bindings collection, as the scheduler's client may post
            "/api/v1/namespaces/default/bindings",
            content=encode_object(binding),
            headers={"Content-Type": PB},
        )
        assert r.status_code == 201, r.text
        assert http.get("/api/v1/namespaces/default/pods/p2").json()["spec"]["nodeName"] == "node-1"


def test_protobuf_delete_options_are_read(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        assert http.post(CONFIGMAPS, json=CM).status_code == 201
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "dryRun": ["All"]}
        r = http.request(
            "DELETE", f"{CONFIGMAPS}/cm1", content=encode_object(options), headers=KUBECTL_133
        )
        assert r.status_code == 200, r.text
        assert _names(http, CONFIGMAPS) == ["cm1"]  # a dry run: still there
        options = {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
        r = http.request(
            "DELETE", f"{CONFIGMAPS}/cm1", content=encode_object(options), headers=KUBECTL_133
        )
        assert r.status_code == 200, r.text
        assert _names(http, CONFIGMAPS) == []


GOOD = encode_object(CM)
RAW_AT = GOOD.index(b"\x12", 6 + GOOD[5])  # the envelope's raw field, after typeMeta


def _with_raw(raw: bytes) -> bytes:
    return GOOD[:RAW_AT] + b"\x12" + bytes([len(raw)]) + raw + b"\x1a\x00\x22\x00"


MALFORMED = {
    "no magic": (GOOD[4:], "does not appear to be a protobuf message"),
    "magic only": (b"k8s\x00", "only the prefix"),
    "truncated": (GOOD[:-9], "runs past the end"),
    "varint past ten bytes": (_with_raw(b"\x38" + b"\xff" * 11), "varint longer than 10 bytes"),
    "wrong wire type": (_with_raw(b"\x08\x01"), "metadata: wire type 0, expected 2"),
    "bad utf-8 in a name": (_with_raw(b"\x0a\x03\x0a\x01\xff"), "metadata: name: string is not"),
    "kind missing": (b"k8s\x00\x0a\x04\x0a\x02v1\x12\x00", "Object 'Kind' is missing"),
    "apiVersion missing": (b"k8s\x00\x0a\x0b\x12\x09ConfigMap", "Object 'apiVersion' is missing"),
    "kind not the URL's": (
        encode_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cm1"}}),
        "the kind of the object (Secret) does not match the URL (ConfigMap)",
    ),
    "kind unknown": (
        encode_object(CM).replace(b"\x09ConfigMap", b"\x09ConfigMop"),
        "no kind 'ConfigMop' is registered for version 'v1'",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_protobuf_is_a_bad_request_and_stores_nothing(
    sqlite_api: RunningAPI, case: str
) -> None:
    body, message = MALFORMED[case]
    with sqlite_api.http() as http:
        r = http.post(CONFIGMAPS, content=body, headers=KUBECTL_133)
        assert r.status_code == 400, r.text
        status = r.json()
        assert status["kind"] == "Status" and status["reason"] == "BadRequest"
        assert message in status["message"]
        assert _names(http, CONFIGMAPS) == []


GIZMOS = definition(
    "gizmos", "Gizmo", {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
)


def test_custom_resource_in_protobuf_is_unsupported_media_type(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        # The CRD itself is built-in: it may come in protobuf.
        r = http.post(CRDS, content=encode_object(GIZMOS), headers=KUBECTL_133)
        assert r.status_code == 201, r.text

        def established() -> bool:
            crd = http.get(f"{CRDS}/gizmos.example.com").json()
            conditions = crd.get("status", {}).get("conditions", [])
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        wait_until(established, message="gizmos never established")
        path = "/apis/example.com/v1/namespaces/default/gizmos"
        body = b"k8s\x00\x0a\x19\x0a\x0eexample.com/v1\x12\x05Gizmo\x12\x00"
        r = http.post(path, content=body, headers=KUBECTL_133)
        assert r.status_code == 415, r.text
        assert r.json()["reason"] == "UnsupportedMediaType"
        assert "accepted media types include: application/json, application/yaml" in r.text
        assert _names(http, path) == []
        # Asked for protobuf, a custom resource is answered in JSON.
        assert (
            http.post(
                path,
                json={"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}},
            ).status_code
            == 201
        )
        r = http.get(f"{path}/g", headers={"Accept": KUBECTL_133["Accept"]})
        assert r.headers["content-type"] == "application/json"

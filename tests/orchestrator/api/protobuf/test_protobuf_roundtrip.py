"""Every built-in kind survives JSON -> protobuf -> JSON unchanged, and the zero-value rules."""

from __future__ import annotations

import copy

import pytest
from pb_samples import SAMPLES

from orchestrator.api.protobuf import ProtobufError, decode_object, encode_object
from orchestrator.api.protobuf.descriptors import load_messages, message_for
from orchestrator.api.resources import BUILTIN_TYPES

# Read-only kinds kubectl's clients ask for in JSON (kubectl top's metrics client): served as
# JSON whatever the Accept header says, as custom resources are.
JSON_ONLY_GROUPS = ("metrics.k8s.io",)


def test_every_builtin_kind_and_its_list_has_a_protobuf_form_and_a_sample() -> None:
    for rt in BUILTIN_TYPES:
        if rt.group in JSON_ONLY_GROUPS:
            assert message_for(rt.api_version, rt.kind) is None, rt.kind  # JSON, said below
            continue
        assert message_for(rt.api_version, rt.kind) is not None, rt.kind
        assert rt.kind in SAMPLES, rt.kind
        if "list" in rt.verbs:
            assert message_for(rt.api_version, rt.list_kind) is not None, rt.list_kind


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_object_reads_back_from_protobuf_as_the_same_json(kind: str) -> None:
    obj = SAMPLES[kind]
    original = copy.deepcopy(obj)
    data = encode_object(obj)
    assert data.startswith(b"k8s\x00")
    assert decode_object(data) == original
    assert obj == original  # encoding does not touch the object


def test_zero_values_are_dropped_except_in_pointer_and_always_shown_fields() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "generateName": "", "generation": 0, "labels": {}},
        "spec": {
            "replicas": 0,  # *int32: a real zero
            "minReadySeconds": 0,  # int32: unset
            "paused": False,  # bool: unset
            "strategy": {},  # struct: unset
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "",
                            "image": "x",
                            "env": [{"name": "E", "value": ""}],
                            "ports": [{"containerPort": 0}],
                        }
                    ]
                }
            },
        },
        "status": {"conditions": [{"type": "Available", "lastUpdateTime": None}]},
    }
    assert decode_object(encode_object(obj)) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 0,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "",
                            "image": "x",
                            "env": [{"name": "E"}],
                            "ports": [{"containerPort": 0}],
                        }
                    ]
                }
            },
        },
        "status": {"conditions": [{"type": "Available", "lastUpdateTime": None}]},
    }


def test_pointer_struct_that_is_empty_stays_an_empty_object() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"volumes": [{"name": "v", "emptyDir": {}}], "securityContext": {}},
    }
    assert decode_object(encode_object(pod))["spec"] == pod["spec"]


def test_times_go_to_the_second_and_micro_times_to_the_microsecond() -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "creationTimestamp": None},
        "spec": {"acquireTime": "2026-12-07T10:00:00.5Z", "renewTime": "2026-12-07T11:00:00Z"},
    }
    back = decode_object(encode_object(lease))
    assert back["metadata"] == {"name": "l", "creationTimestamp": None}  # the zero Time
    assert back["spec"] == {
        "acquireTime": "2026-12-07T10:00:00.500000Z",
        "renewTime": "2026-12-07T11:00:00.000000Z",
    }


def test_int64_stays_an_integer_including_negative_and_large_values() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n", "generation": -5},
        "status": {"images": [{"names": ["x"], "sizeBytes": 2**62}]},
    }
    back = decode_object(encode_object(node))
    assert back["metadata"]["generation"] == -5
    assert back["status"]["images"][0]["sizeBytes"] == 2**62


def test_unknown_field_numbers_are_skipped() -> None:
    data = encode_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    # Append field 99 (varint) and 98 (length) to raw: rebuild the envelope around it.
    raw_len_at = data.index(b"\x12", 4 + 2 + data[5])
    raw = data[raw_len_at + 2 : raw_len_at + 2 + data[raw_len_at + 1]]
    extra = raw + b"\x98\x06\x07" + b"\x92\x06\x02hi"
    body = data[:raw_len_at] + b"\x12" + bytes([len(extra)]) + extra + b"\x1a\x00\x22\x00"
    assert decode_object(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
    }


def test_a_value_protobuf_cannot_hold_is_refused_when_encoding() -> None:
    with pytest.raises(ProtobufError, match="replicas: expected an integer"):
        encode_object({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "3"}})


def test_tables_resolve_every_reference() -> None:
    messages = load_messages()
    assert "core.v1.PodSpec" in messages
    for msg in messages.values():
        for f in msg.fields:
            assert f.kind != "message" or f.message is not None, (msg.name, f.name)

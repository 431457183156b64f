"""Every built-in kind survives JSON -> protobuf -> JSON unchanged, and the zero-value rules."""

from __future__ import annotations

import copy
import math
import re
import struct

import pytest
from pb_samples import SAMPLES
from pb_wire import L, S, V, envelope, varint

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


# Bytes a fuzzer sent (tests/orchestrator/apiserver/limits/test_fuzz_protobuf.py) that once
# escaped the decoder as an exception other than ProtobufError, so the API server answered 500.
def _cm(meta: bytes) -> bytes:
    return envelope("v1", "ConfigMap", L(1, S(1, "c") + meta))


def _fields_v1(raw: bytes) -> bytes:
    return _cm(L(17, L(7, L(1, raw))))  # metadata.managedFields[0].fieldsV1


def _time(seconds_varint: bytes) -> bytes:
    return _cm(L(8, b"\x08" + seconds_varint))  # metadata.creationTimestamp


def _crd_maximum(double: bytes) -> bytes:
    schema = L(1, b"\x49" + double)  # JSONSchemaProps.maximum (9, fixed64)
    version = S(1, "v1") + L(4, schema)  # versions[0].schema.openAPIV3Schema
    spec = S(1, "g.example.com") + L(7, version)
    return envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", L(2, spec))


REFUSED = [
    ("time-past-year-9999", _time(b"\xff" * 8 + b"\x7f"), "year outside of range [0,9999]"),
    ("time-before-year-1", _time(b"\x80" * 9 + b"\x01"), "year outside of range [0,9999]"),
    ("fieldsV1-not-json", _fields_v1(b"{"), "fieldsV1: raw JSON is not valid"),
    ("fieldsV1-nan", _fields_v1(b"NaN"), "fieldsV1: raw JSON is not valid"),
    ("fieldsV1-not-utf8", _fields_v1(b'"\xff"'), "fieldsV1: raw JSON is not valid"),
    ("fieldsV1-lone-surrogate", _fields_v1(b'"\\ud800"'), "raw JSON is not valid"),
    ("fieldsV1-5000-digits", _fields_v1(b"1" * 5000), "raw JSON is not valid"),
    ("fieldsV1-2000-levels", _fields_v1(b"[" * 2000 + b"]" * 2000), "raw JSON is not valid"),
    ("field-number-past-2^29", _cm(varint(1 << 29 << 3) + b"\x00"), "illegal tag 536870912"),
    ("maximum-nan", _crd_maximum(struct.pack("<d", math.nan)), "maximum: nan is not a number"),
    ("maximum-infinity", _crd_maximum(struct.pack("<d", math.inf)), "maximum: inf is not"),
]


@pytest.mark.parametrize(("body", "words"), [pytest.param(*c[1:], id=c[0]) for c in REFUSED])
def test_bytes_with_no_json_form_are_refused_naming_the_field(body: bytes, words: str) -> None:
    with pytest.raises(ProtobufError, match=re.escape(words)):
        decode_object(body)


def _lease_renew(seconds: int, nanos_varint: bytes) -> bytes:
    renew = V(1, seconds) + b"\x10" + nanos_varint
    return envelope("coordination.k8s.io/v1", "Lease", L(1, S(1, "l")) + L(2, L(4, renew)))


READ_AS_GO_READS = [
    # A varint's tenth byte adds only its lowest bit: the value is taken modulo 2^64.
    ("varint-past-64-bits", _cm(b"\x38" + b"\xff" * 9 + b"\x7f"), ("metadata", "generation"), -1),
    # An int32 keeps the low 32 bits of what arrives, as a cast would.
    (
        "int32-past-32-bits",
        envelope("apps/v1", "Deployment", L(1, S(1, "d")) + L(2, V(1, 2**32 + 3))),
        ("spec", "replicas"),
        3,
    ),
    (
        "int32-negative-sign-extended",
        envelope("apps/v1", "Deployment", L(1, S(1, "d")) + L(2, V(1, 2**64 - 2))),
        ("spec", "replicas"),
        -2,
    ),
    # Nanoseconds outside [0, 1e9) carry into the seconds, as Go's time.Unix does.
    (
        "micro-time-nanos-past-a-second",
        _lease_renew(1, varint(1_500_000_000)),
        ("spec", "renewTime"),
        "1970-01-01T00:00:02.500000Z",
    ),
    (
        "micro-time-negative-nanos",
        _lease_renew(10, varint(2**64 - 500_000_000)),
        ("spec", "renewTime"),
        "1970-01-01T00:00:09.500000Z",
    ),
]


@pytest.mark.parametrize(
    ("body", "path", "value"), [pytest.param(*c[1:], id=c[0]) for c in READ_AS_GO_READS]
)
def test_numbers_out_of_their_range_are_read_as_go_reads_them(
    body: bytes, path: tuple[str, str], value: object
) -> None:
    obj = decode_object(body)
    assert obj[path[0]][path[1]] == value

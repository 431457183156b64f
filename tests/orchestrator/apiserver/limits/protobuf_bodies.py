"""Protobuf request bodies for the fuzzing of the API server: valid ones, then broken.

Each body starts as a real object encoded by our own encoder (the bytes
kubectl 1.33 would send for it), and hypothesis then mutates the typed
object's bytes inside a valid envelope, where the decoder has to walk them:
bit flips, truncation, and inserted fields made to hurt (varints past ten
bytes or 64 bits, lengths past the end, wrong or reserved wire types, field
numbers unknown or past the protobuf maximum, strings that are not UTF-8,
embedded messages nested thousands deep, a repeated field filling the body
limit's worth). Some bodies change the envelope's kind or apiVersion instead; the
rest are random bytes after the magic, or a valid envelope around random
bytes.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from orchestrator.api.protobuf.descriptors import (
    FIXED64,
    LENGTH,
    VARINT,
    Field,
    Message,
    message_for,
    varint,
)
from orchestrator.api.protobuf.encode import encode
from orchestrator.api.protobuf.envelope import MAGIC


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: a message, a string or bytes."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\0`` and a ``runtime.Unknown`` around ``raw``, as kubectl sends it."""
    type_meta = field(1, api_version.encode()) + field(2, kind.encode())
    return MAGIC + field(1, type_meta) + field(2, raw) + b"\x1a\x00\x22\x00"


def typed_bytes(obj: dict) -> bytes:
    """The typed object's bytes (``raw`` of the envelope) as our encoder writes them."""
    msg = message_for(obj["apiVersion"], obj["kind"])
    assert msg is not None, obj["kind"]
    return encode(obj, msg)


def nested(depth: int, number: int, leaf: bytes = b"") -> bytes:
    """``depth`` messages each holding the next as field ``number``."""
    data = leaf
    for _ in range(depth):
        data = field(number, data)
    return data


def schema_nested(depth: int) -> bytes:
    """A CRD's JSONSchemaProps ``depth`` levels deep through ``properties`` (a real recursion)."""
    props = b""
    for _ in range(depth):
        props = field(29, field(1, b"p") + field(2, props))  # properties: map entry "p"
    return props


tags = st.builds(
    lambda number, wire: varint(number << 3 | wire),
    st.integers(1, 40) | st.sampled_from([0, 99, 1000, (1 << 29) - 1, 1 << 29, 1 << 40]),
    st.integers(0, 7),
)


def _overlong(tag: bytes, n: int, last: int) -> bytes:
    return tag + b"\xff" * n + bytes([last])


def _repeated(number: int, count: int) -> bytes:
    return field(number, b"") * count


not_utf8 = st.sampled_from([b"\xff", b"\xc3", b"a\xed\xa0\x80", b"\x80\x80"])
harmful = st.one_of(
    st.binary(max_size=24),
    # a varint of 11+ bytes, or 10 whose last byte overflows 64 bits
    st.builds(_overlong, tags, st.integers(1, 12), st.integers(0, 0x7F)),
    # a length far past the end
    st.builds(lambda t, n: t + varint(n), tags, st.integers(1, 2**64 - 1)),
    # a string field that is not UTF-8
    st.builds(field, st.integers(1, 20), not_utf8),
    # a known field number in every wire type, with a little payload
    st.builds(lambda t, b: t + b, tags, st.binary(max_size=10)),
    # embedded messages nested deep (each field number tried at every level)
    st.builds(nested, st.sampled_from([2, 50, 200, 5000]), st.integers(1, 20)),
    # a long repeated field of empty messages or strings (2 bytes each); kept to 5,000: the
    # validation errors of as many empty containers take seconds to render (the corpus sends a
    # 3 MiB one of strings, refused as too large before validation)
    st.builds(_repeated, st.integers(1, 20), st.sampled_from([100, 1000, 5000])),
)


# Values a varint field is given: edges of every width, a ten-byte varint past 64 bits.
varints = st.one_of(
    st.integers(0, 2**64 - 1).map(varint),
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32 + 3, 2**63 - 1, 2**63, 2**64 - 1]).map(varint),
    st.sampled_from([b"\xff" * 9 + b"\x7f", b"\x80" * 9 + b"\x01"]),
)
doubles = st.floats(allow_nan=True, allow_infinity=True).map(lambda x: struct.pack("<d", x))
texts = st.text(max_size=12).map(lambda t: t.encode()) | st.sampled_from(
    [b"-1", b"1e999999", b"100m", b"2026-12-07T10:00:00Z", b"a" * 300, b"Always", b"TCP"]
)
# Raw JSON (fieldsV1, RawExtension): JSON a JSON body would be refused for, and any bytes.
raw_json = (
    st.sampled_from(
        [b"{", b"NaN", b'"\xff"', b'"\\ud800"', b"1" * 400, b"[" * 2000, b"[" * 150 + b"]" * 150]
    )
    | st.sampled_from([b"{}", b'{"f:data":{}}', b"[]", b"1"])
    | st.binary(max_size=12)
)
# What a hostile body puts in a field now and then: another wire type, a varint past ten
# bytes, a string that is not UTF-8.
hostile_bytes = st.sampled_from([b"\xff" * 10 + b"\x01", b"\xff" * 12, b"\x01\xff", b"\x02\xc3("])


@st.composite
def fields_of(draw: st.DrawFn, msg: Message, hostile: bool, depth: int = 0) -> bytes:
    """Bytes of a few of ``msg``'s fields with values at the edges of what their types hold,
    embedded messages to ``depth`` 4; a ``hostile`` body also breaks the wire format."""
    out = bytearray()
    for f in draw(st.lists(st.sampled_from(msg.fields), max_size=4 if depth < 4 else 1)):
        if hostile and draw(st.integers(0, 9)) == 0:
            wire = draw(st.sampled_from([VARINT, LENGTH, FIXED64, 3, 5, 6]))
            out += varint(f.number << 3 | wire) + draw(hostile_bytes | st.binary(max_size=6))
            continue
        out += f.key if f.kind != "map" else varint(f.number << 3 | LENGTH)
        if f.wire == VARINT:
            out += draw(varints)
        elif f.wire == FIXED64:
            out += draw(doubles)
        else:
            out += field_payload(draw(_payload(f, msg, hostile, depth)))
    return bytes(out)


def field_payload(payload: bytes) -> bytes:
    return varint(len(payload)) + payload


def _payload(f: Field, msg: Message, hostile: bool, depth: int) -> st.SearchStrategy[bytes]:
    """What a length-delimited ``f`` of ``msg`` holds."""
    if f.kind == "map":
        if f.message is not None:
            value = fields_of(f.message, hostile, depth + 1)
        else:
            value = texts if f.value_kind == "string" else st.binary(max_size=8)
        return st.builds(lambda k, v: field(1, k) + field(2, v), texts, value)
    if f.message is not None:
        return fields_of(f.message, hostile, depth + 1) if depth < 4 else st.just(b"")
    if msg.shaped and f.kind == "bytes":
        return raw_json
    return texts if f.kind == "string" else st.binary(max_size=16)


@st.composite
def mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` with one to three mutations."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["flip", "truncate", "insert", "insert", "replace"]))
        at = draw(st.integers(0, len(data)))
        if how == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del data[at:]
        elif how == "replace":
            data[at : at + draw(st.integers(1, 8))] = draw(harmful)
        else:
            data[at:at] = draw(harmful)
    return bytes(data)


API_VERSIONS = ["v1", "apps/v1", "autoscaling/v1", "policy/v1", "batch/v1", "", "v2", "x/y"]
KINDS = [
    "ConfigMap", "Secret", "Pod", "Service", "Deployment", "DeleteOptions", "Binding", "Scale",
    "Eviction", "Namespace", "Status", "PodSpec", "ObjectMeta", "", "Unknown",
]  # fmt: skip


def bodies(obj: dict) -> st.SearchStrategy[bytes]:
    """Protobuf bodies around ``obj`` (``kind``/``apiVersion`` set, name made unique by the
    caller): itself, with fields added by the tables (half the draws: the decoder's faults
    were found there), mutated, in another envelope, or no object at all."""
    raw = typed_bytes(obj)
    api_version, kind = obj["apiVersion"], obj["kind"]
    msg = message_for(api_version, kind)
    assert msg is not None
    added = st.booleans().flatmap(lambda hostile: fields_of(msg, hostile))
    with_fields = added.map(lambda extra: envelope(api_version, kind, raw + extra))
    return st.one_of(
        st.just(envelope(api_version, kind, raw)),
        with_fields, with_fields, with_fields, with_fields, with_fields, with_fields,
        mutated(raw).map(lambda r: envelope(api_version, kind, r)),
        st.builds(
            envelope, st.sampled_from(API_VERSIONS) | st.text(max_size=10),
            st.sampled_from(KINDS) | st.text(max_size=10), st.just(raw),
        ),
        st.builds(envelope, st.just(api_version), st.just(kind), st.binary(max_size=80)),
        st.binary(max_size=80).map(lambda b: MAGIC + b),
        mutated(envelope(api_version, kind, raw)),
    )  # fmt: skip

"""Kubernetes' protobuf envelope: ``k8s\\0`` then a ``runtime.Unknown``.

``Unknown{1 typeMeta{1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
4 contentType}`` carries the typed object's bytes in ``raw``
(apimachinery ``pkg/runtime/serializer/protobuf/protobuf.go``). Reading
refuses what the Go decoder refuses: data without the magic, the magic
alone, a missing kind or apiVersion, an object kind that has no protobuf
form. Writing produces the bytes Go does, empty ``contentEncoding`` and
``contentType`` included.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.protobuf.decode import ProtobufError, decode
from orchestrator.api.protobuf.descriptors import load_messages, message_for
from orchestrator.api.protobuf.encode import encode, encode_message

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"


def read_envelope(data: bytes) -> tuple[str, str, bytes]:
    """``(apiVersion, kind, raw)`` of an enveloped body."""
    if not data.startswith(MAGIC):
        raise ProtobufError(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        )
    if len(data) == len(MAGIC):
        raise ProtobufError("the protobuf body holds only the prefix: no object follows")
    unknown = decode(data[len(MAGIC) :], load_messages()["runtime.Unknown"])
    type_meta = unknown.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if not kind:
        raise ProtobufError("Object 'Kind' is missing in the protobuf body")
    if not api_version:
        raise ProtobufError("Object 'apiVersion' is missing in the protobuf body")
    raw: bytes = unknown.get("raw", b"")
    return api_version, kind, raw


def decode_object(data: bytes) -> dict[str, Any]:
    """The JSON dict of an enveloped object, ``kind`` and ``apiVersion`` first."""
    api_version, kind, raw = read_envelope(data)
    msg = message_for(api_version, kind)
    if msg is None:
        raise ProtobufError(f"no kind {kind!r} is registered for version {api_version!r}")
    try:
        fields = decode(raw, msg)
    except ProtobufError as exc:
        raise ProtobufError(f"{kind}.{exc}") from None
    return {"kind": kind, "apiVersion": api_version, **fields}


def encodable(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` is of a kind that has a protobuf form."""
    return message_for(obj.get("apiVersion", ""), obj.get("kind", "")) is not None


def encode_object(obj: dict[str, Any]) -> bytes:
    """The enveloped bytes of ``obj``; ``ProtobufError`` if its kind or a value does not fit."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    msg = message_for(api_version, kind)
    if msg is None:
        raise ProtobufError(f"no kind {kind!r} is registered for version {api_version!r}")
    raw = encode(obj, msg)
    out = bytearray(MAGIC)
    type_meta = bytearray()
    encode_message(
        type_meta, load_messages()["runtime.TypeMeta"], {"apiVersion": api_version, "kind": kind}
    )
    out += b"\x0a"
    _len(out, len(type_meta))
    out += type_meta
    out += b"\x12"
    _len(out, len(raw))
    out += raw
    out += b"\x1a\x00\x22\x00"  # contentEncoding "", contentType "": Go writes both
    return bytes(out)


def _len(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)

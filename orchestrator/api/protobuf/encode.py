"""A JSON dict to protobuf bytes, by the field tables.

Fields go out in ascending number order and map entries in key order, as Go
writes them. Only what the dict holds is written: a Go reader takes an absent
non-pointer field as its zero, exactly as it takes an absent JSON field, so
the object it reads is the same. Keys the tables do not know have no place in
protobuf and are not sent (Kubernetes' own protobuf answers cannot carry them
either). A value of the wrong JSON type raises ``ProtobufError``; the API
server then answers in JSON instead.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

from orchestrator.api.protobuf.decode import ProtobufError
from orchestrator.api.protobuf.descriptors import Field, Message
from orchestrator.api.protobuf.shapes import SHAPES

_MASK = (1 << 64) - 1
_DOUBLE = struct.Struct("<d")


def _varint(out: bytearray, value: int) -> None:
    value &= _MASK  # negative numbers are written as 64-bit two's complement
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _bytes(out: bytearray, key: bytes, data: bytes | bytearray) -> None:
    out += key
    _varint(out, len(data))
    out += data


def _scalar(out: bytearray, key: bytes, kind: str, value: Any) -> None:
    if kind == "string":
        if not isinstance(value, str):
            raise ProtobufError(f"expected a string, got {type(value).__name__}")
        _bytes(out, key, value.encode("utf-8"))
    elif kind == "bytes":
        if isinstance(value, str):
            try:
                value = base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ProtobufError(f"not base64: {exc}") from None
        _bytes(out, key, value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ProtobufError(f"expected a boolean, got {type(value).__name__}")
        out += key
        out.append(1 if value else 0)
    elif kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtobufError(f"expected a number, got {type(value).__name__}")
        out += key
        out += _DOUBLE.pack(float(value))
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtobufError(f"expected an integer, got {type(value).__name__}")
        out += key
        _varint(out, value)


def _message(out: bytearray, key: bytes, msg: Message, value: Any) -> None:
    inner = bytearray()
    encode_message(inner, msg, value)
    _bytes(out, key, inner)


def _field(out: bytearray, f: Field, value: Any) -> None:
    kind = f.kind
    if kind == "map":
        if not isinstance(value, dict):
            raise ProtobufError(f"expected an object, got {type(value).__name__}")
        for k in sorted(value):
            item = value[k]
            if item is None:
                continue
            entry = bytearray()
            _scalar(entry, b"\x0a", "string", k)
            if f.value_kind == "message":
                _message(entry, b"\x12", f.message, item)  # type: ignore[arg-type]
            else:
                _scalar(
                    entry,
                    b"\x12" if f.value_kind in ("string", "bytes") else b"\x10",
                    f.value_kind,
                    item,
                )
            _bytes(out, f.key, entry)
    elif f.repeated:
        if not isinstance(value, list):
            raise ProtobufError(f"expected a list, got {type(value).__name__}")
        for item in value:
            if kind == "message":
                _message(out, f.key, f.message, item)  # type: ignore[arg-type]
            else:
                _scalar(out, f.key, kind, item)
    elif kind == "message":
        _message(out, f.key, f.message, value)  # type: ignore[arg-type]
    else:
        _scalar(out, f.key, kind, value)


def encode_message(out: bytearray, msg: Message, value: Any) -> None:
    """Append the fields of ``value`` (a JSON value shown as ``msg``) to ``out``."""
    if msg.shaped:
        try:
            value = SHAPES[msg.name][1](value)
        except ValueError as exc:
            raise ProtobufError(str(exc)) from None
    elif msg.list_of:
        value = {"items": value}
    if not isinstance(value, dict):
        raise ProtobufError(f"expected an object, got {type(value).__name__}")
    for f in msg.fields:
        if f.inline:
            _message(out, f.key, f.message, value)  # type: ignore[arg-type]
            continue
        item = value.get(f.name)
        if item is None:
            if f.name in value and f.message is not None and f.message.shaped and not f.pointer:
                out += f.key + b"\x00"  # null Time: the empty message Go writes for it
            continue
        try:
            _field(out, f, item)
        except ProtobufError as exc:
            raise ProtobufError(f"{f.name}: {exc}") from None


def encode(obj: dict[str, Any], msg: Message) -> bytes:
    """The bytes of a whole message (no envelope)."""
    out = bytearray()
    encode_message(out, msg, obj)
    return bytes(out)

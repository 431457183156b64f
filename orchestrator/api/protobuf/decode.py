"""Protobuf bytes to the JSON dict of the same object, by the field tables.

A proto2 reader written for the two wire types Kubernetes uses (varint and
length-delimited) plus fixed64 for the ``double`` fields of JSON schemas. It
walks one message at a time and writes JSON names straight into the dict the
rest of the server handles, applying the zero-value rules of
``notation``: a non-pointer field that arrives as ``""``, 0, false or ``{}``
is "unset" and left out (Go writes every non-pointer field), a pointer's or
an always-shown (``!``) scalar's zero is kept. A zero ``Time`` in a
non-pointer field is ``null``, as kubectl 1.31 sends ``creationTimestamp``
in JSON, so either way the same object is stored. Fields the tables do not know
are skipped, as proto2 skips them. Bytes that cannot be a message (a varint
past ten bytes, a length past its message's end, a field in the wrong wire
type, a group, a field number past 2^29 - 1) raise ``ProtobufError`` naming
the field path.

Numbers read as the protobuf spec says a parser reads them: a varint's tenth
byte only contributes its lowest bit (the value is taken modulo 2^64, as Go's
generated readers do), and an ``int32`` field keeps the low 32 bits of what
arrives, as a cast in C++ or Go would. A ``double`` that is NaN or infinite
has no JSON form and is refused, as is a message whose JSON form cannot be
built (a time outside the years 1-9999, raw JSON that is not JSON): each is a
400 naming the field, never an exception escaping to the server.

Measured against the ``protobuf`` package (upb) with descriptors built from
the same tables: see ``bench/protobuf_codec.py`` and the notes in
``__init__``.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from orchestrator.api.protobuf.descriptors import FIXED64, LENGTH, VARINT, Field, Message
from orchestrator.api.protobuf.shapes import SHAPES

_SIGN = 1 << 63
_WRAP = 1 << 64
_MASK = _WRAP - 1
_INT32_SIGN = 1 << 31
_INT32_WRAP = 1 << 32
_MAX_FIELD = (1 << 29) - 1  # the protobuf spec's largest field number
_DOUBLE = struct.Struct("<d")


class ProtobufError(ValueError):
    """Bytes that are not the message they claim to be; the message names where."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtobufError("unexpected end of data inside a varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return (value & _MASK if shift == 63 else value), pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    n, pos = _varint(buf, pos, end)
    if n > end - pos:
        raise ProtobufError(f"length {n} runs past the end of its message ({end - pos} left)")
    return pos + n, pos


def _skip(buf: bytes, pos: int, end: int, wire: int) -> int:
    if wire == VARINT:
        return _varint(buf, pos, end)[1]
    if wire == LENGTH:
        return _length(buf, pos, end)[0]
    if wire == FIXED64 or wire == 5:
        pos += 8 if wire == FIXED64 else 4
        if pos > end:
            raise ProtobufError("unexpected end of data inside a fixed-size field")
        return pos
    raise ProtobufError(f"unsupported wire type {wire}")


def _scalar(kind: str, buf: bytes, pos: int, end: int, raw: bool) -> tuple[Any, int]:
    """A scalar field's value starting at ``pos`` (its key already read)."""
    if kind == "string":
        stop, start = _length(buf, pos, end)
        try:
            return buf[start:stop].decode("utf-8"), stop
        except UnicodeDecodeError as exc:
            raise ProtobufError(f"string is not valid UTF-8 ({exc.reason})") from None
    if kind == "bytes":
        stop, start = _length(buf, pos, end)
        data = buf[start:stop]
        return (data if raw else base64.b64encode(data).decode("ascii")), stop
    if kind == "double":
        if pos + 8 > end:
            raise ProtobufError("unexpected end of data inside a double")
        number = _DOUBLE.unpack_from(buf, pos)[0]
        if math.isnan(number) or math.isinf(number):
            raise ProtobufError(f"{number} is not a number JSON can hold")
        if number.is_integer() and abs(number) < 2**53:
            number = int(number)  # Go's JSON writes 100.0 as 100; so does ours after this
        return number, pos + 8
    value, pos = _varint(buf, pos, end)
    if kind == "bool":
        return value != 0, pos
    if kind == "int32":  # the low 32 bits, as a cast would keep them
        value &= _INT32_WRAP - 1
        return (value - _INT32_WRAP if value >= _INT32_SIGN else value), pos
    if value >= _SIGN:
        value -= _WRAP  # a negative int64 is its 64-bit two's complement
    return value, pos


def _map_entry(f: Field, buf: bytes, pos: int, stop: int) -> tuple[str, Any]:
    key: str = ""
    value: Any = None
    while pos < stop:
        tag, pos = _varint(buf, pos, stop)
        number, wire = tag >> 3, tag & 7
        if number == 1 and wire == LENGTH:
            end2, start = _length(buf, pos, stop)
            key, pos = _text(buf, start, end2), end2
        elif number == 2:
            if f.value_kind == "message":
                if wire != LENGTH:
                    raise ProtobufError(f"map value has wire type {wire}, expected {LENGTH}")
                end2, start = _length(buf, pos, stop)
                value, pos = decode_message(buf, start, end2, f.message), end2  # type: ignore[arg-type]
            else:
                expected = LENGTH if f.value_kind in ("string", "bytes") else VARINT
                if wire != expected:
                    raise ProtobufError(f"map value has wire type {wire}, expected {expected}")
                value, pos = _scalar(f.value_kind, buf, pos, stop, False)
        else:
            pos = _skip(buf, pos, stop, wire)
    if value is None:  # Go writes both; a missing value is the value's zero
        value = "" if f.value_kind in ("string", "bytes") else 0
        if f.value_kind == "message":
            value = decode_message(b"", 0, 0, f.message)  # type: ignore[arg-type]
    return key, value


def decode_message(buf: bytes, pos: int, end: int, msg: Message) -> Any:
    """The JSON value of the message in ``buf[pos:end]``.

    Keys and lengths under 128 (nearly all) are read inline: a function call
    per field was a third of the decoding time.
    """
    out: dict[str, Any] = {}
    by_tag = msg.by_tag
    raw = msg.shaped  # a shaped message's fields go to shapes.py as they are
    while pos < end:
        tag = buf[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = _varint(buf, pos, end)
        f = by_tag.get(tag)
        if f is None:
            pos = _unknown(msg, tag, buf, pos, end)
            continue
        kind = f.kind
        try:
            if f.wire == LENGTH:
                if pos >= end:
                    raise ProtobufError("unexpected end of data inside a length")
                n = buf[pos]
                if n < 0x80:
                    pos += 1
                else:
                    n, pos = _varint(buf, pos, end)
                stop = pos + n
                if stop > end:
                    raise ProtobufError(
                        f"length {n} runs past the end of its message ({end - pos} left)"
                    )
                if kind == "message":
                    value = decode_message(buf, pos, stop, f.message)  # type: ignore[arg-type]
                elif kind == "string":
                    value = _text(buf, pos, stop)
                elif kind == "map":
                    key, item = _map_entry(f, buf, pos, stop)
                    entries = out.get(f.name)
                    if entries is None:
                        out[f.name] = entries = {}
                    entries[key] = item
                    pos = stop
                    continue
                else:  # bytes
                    data = buf[pos:stop]
                    value = data if raw else base64.b64encode(data).decode("ascii")
                pos = stop
            else:
                value, pos = _scalar(kind, buf, pos, end, raw)
        except ProtobufError as exc:
            raise ProtobufError(f"{f.name or f.number}: {exc}") from None
        if f.repeated:
            items = out.get(f.name)
            if items is None:
                out[f.name] = items = []
            items.append(value)
        elif f.inline:
            out.update(value)
        elif value is None:  # a zero Time: null, as Go's JSON shows a non-pointer one
            if f.pointer:
                out.pop(f.name, None)
            else:
                out[f.name] = None
        elif raw or value or f.pointer or f.always:
            out[f.name] = value
        else:
            out.pop(f.name, None)  # a zero after a value: the last occurrence wins
    if raw:
        try:
            return SHAPES[msg.name][0](out)
        except (ValueError, OverflowError) as exc:  # orjson's JSONDecodeError is a ValueError
            raise ProtobufError(str(exc)) from None
    if msg.list_of:
        return out.get("items", [])
    return out


def _text(buf: bytes, pos: int, stop: int) -> str:
    try:
        return buf[pos:stop].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"string is not valid UTF-8 ({exc.reason})") from None


def _unknown(msg: Message, tag: int, buf: bytes, pos: int, end: int) -> int:
    """Skip a field the tables do not know; a known field in the wrong wire type is an error."""
    number, wire = tag >> 3, tag & 7
    if number == 0 or number > _MAX_FIELD:
        raise ProtobufError(f"illegal tag {number} (wire type {wire})")
    known = msg.by_number.get(number)
    if known is not None:
        raise ProtobufError(f"{known.name or number}: wire type {wire}, expected {known.wire}")
    return _skip(buf, pos, end, wire)


def decode(buf: bytes, msg: Message) -> dict[str, Any]:
    """The JSON dict of a whole message (no envelope)."""
    try:
        result = decode_message(buf, 0, len(buf), msg)
    except RecursionError:
        raise ProtobufError("messages nested too deeply") from None
    if not isinstance(result, dict):
        raise ProtobufError(f"{msg.name} is not an object")
    return result

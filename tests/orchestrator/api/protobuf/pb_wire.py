"""Builders of protobuf bytes field by field, for tests that need bytes our encoder never writes.

``L`` a length-delimited field (a message, string or bytes), ``S`` a string,
``V`` a varint, ``envelope`` the ``k8s\\0`` magic and ``runtime.Unknown``
around a typed object's bytes, as kubectl 1.33 sends it.
"""

from __future__ import annotations

from orchestrator.api.protobuf.descriptors import varint

MAGIC = b"k8s\x00"


def L(number: int, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def S(number: int, text: str) -> bytes:
    return L(number, text.encode())


def V(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + L(1, S(1, api_version) + S(2, kind)) + L(2, raw) + S(3, "") + S(4, "")

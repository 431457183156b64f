"""Kubernetes' protobuf wire format for the built-in kinds.

kubectl 1.32 and newer send built-in kinds as ``application/vnd.kubernetes.protobuf``
(reference/kubectl-protobuf-and-streams.md §2). This package turns such a body
into the plain JSON dict the API server handles, and a dict back into the
bytes Kubernetes would send:

- ``tables/*.txt``: the field tables, in our notation (``notation``); the
  numbers are the facts of the wire format, read from upstream
  ``generated.proto`` and ``types.go`` struct tags;
- ``descriptors``: the tables compiled and checked at import; which
  ``(apiVersion, kind)`` has a protobuf form;
- ``decode`` / ``encode``: a hand-written proto2 reader and writer over them;
- ``shapes``: messages that JSON shows differently (Time, Quantity,
  IntOrString, raw JSON, the JSON-schema "Or" types);
- ``envelope``: the ``k8s\\0`` magic and ``runtime.Unknown``.

Hand code rather than the ``protobuf`` package: the package parses and
serialises in C, but building the JSON dict from its messages (or its
messages from a dict) walks every field in Python anyway, and that walk cost
more than reading the bytes ourselves (``bench/protobuf_codec.py``).
"""

from orchestrator.api.protobuf.decode import ProtobufError
from orchestrator.api.protobuf.envelope import (
    MEDIA_TYPE,
    decode_object,
    encodable,
    encode_object,
)

__all__ = ["MEDIA_TYPE", "ProtobufError", "decode_object", "encodable", "encode_object"]

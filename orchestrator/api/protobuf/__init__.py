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

Hand code rather than the ``protobuf`` package (upb), measured by
``bench/protobuf_codec.py`` with upb's classes built from the same tables:
upb parses and serialises in C, but the JSON dict still has to be built from
its message (or the message from the dict) field by field in Python. Decoding
came out even (upb 0.8-1.05x our time: ConfigMap 9 us, kubectl's Deployment
19 us, a full Pod 138 us), encoding 2.5-6.7x slower with upb (setting fields
through Python attributes), so one hand codec does both. A test checks that
each reads what the other writes for every built-in kind.
"""

from orchestrator.api.protobuf.decode import ProtobufError
from orchestrator.api.protobuf.envelope import (
    MEDIA_TYPE,
    decode_object,
    encodable,
    encode_object,
)

__all__ = ["MEDIA_TYPE", "ProtobufError", "decode_object", "encodable", "encode_object"]

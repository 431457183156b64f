"""bench/protobuf_codec's other side, the ``protobuf`` package (upb), agrees with our codec.

upb is a reference implementation of the wire format: what our encoder writes
it must parse to the same object, and what it writes our decoder must read
back, for a full object of every built-in kind. Both sides use the same
field tables, so this checks the bytes (varints, lengths, wire types, maps,
doubles, negative numbers), not the field numbers.
"""

from __future__ import annotations

import pytest

from bench.protobuf_codec import SAMPLES, Upb  # the samples of tests/orchestrator/api/protobuf
from orchestrator.api.protobuf import decode_object, encode_object

UPB = Upb()


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_upb_reads_what_we_write_and_we_read_what_upb_writes(kind: str) -> None:
    obj = SAMPLES[kind]
    assert UPB.decode(encode_object(obj)) == obj
    assert decode_object(UPB.encode(obj)) == obj

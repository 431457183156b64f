"""SPDY/3.1 framing and sessions, against bytes kubectl sends (reference section 3.4)."""

from __future__ import annotations

import struct
import zlib

from orchestrator.apiserver.streams import spdyframes as f
from orchestrator.apiserver.streams.spdysession import SpdySession, SpdyStream

# The first bytes of kubectl 1.27's first SYN_STREAM, as captured in the reference.
CAPTURED_SYN_PREFIX = bytes.fromhex("800300010000003d0000000100000000000078f9e3c6a7c2")


class ClientSide:
    """What spdystream does on its end: its own header compressor, frames built by hand."""

    def __init__(self) -> None:
        self.codec = f.HeaderCodec()
        self.reader = f.FrameReader()
        self.next_id = 1

    def syn_stream(self, headers: dict[str, str], fin: bool = False) -> bytes:
        payload = struct.pack(">IIBB", self.next_id, 0, 0, 0) + self.codec.encode(headers)
        self.next_id += 2
        return f.control(f.SYN_STREAM, payload, f.FLAG_FIN if fin else 0)


def test_dictionary_is_the_one_zlib_streams_name() -> None:
    assert len(f.DICTIONARY) == 1423
    assert zlib.adler32(f.DICTIONARY) == f.DICTIONARY_ID


def test_captured_first_syn_stream_parses_and_names_our_dictionary() -> None:
    partial = f.FrameReader()
    assert partial.feed(CAPTURED_SYN_PREFIX) == []  # 61 bytes announced, 16 here: wait
    first, flags_len = struct.unpack_from(">II", CAPTURED_SYN_PREFIX)
    assert first >> 16 == 0x8000 | f.VERSION and first & 0xFFFF == f.SYN_STREAM
    assert flags_len & 0xFFFFFF == 0x3D
    block = CAPTURED_SYN_PREFIX[18:]
    assert block[:2] == b"\x78\xf9"  # zlib header with FDICT set
    assert int.from_bytes(block[2:6], "big") == f.DICTIONARY_ID


def test_header_blocks_keep_one_zlib_stream_per_direction() -> None:
    client, server = f.HeaderCodec(), f.HeaderCodec()
    first = client.encode({"streamtype": "error"})
    second = client.encode({"streamtype": "stdin"})
    assert server.decode(first) == {"streamtype": "error"}
    assert server.decode(second) == {"streamtype": "stdin"}
    assert len(second) < len(first)  # a continuation, not a fresh stream with its dictionary


def test_frames_split_at_any_byte_come_out_whole() -> None:
    client = ClientSide()
    wire = client.syn_stream({"streamtype": "data", "port": "80", "requestid": "0"})
    wire += f.data(1, b"hello") + f.data(1, b"", fin=True)
    for cut in range(len(wire) + 1):
        reader = f.FrameReader()
        frames = reader.feed(wire[:cut]) + reader.feed(wire[cut:])
        assert [type(x).__name__ for x in frames] == ["ControlFrame", "DataFrame", "DataFrame"]


def test_session_replies_to_each_stream_echoes_pings_and_ends_streams_on_fin() -> None:
    sent: list[bytes] = []
    opened: list[SpdyStream] = []
    session = SpdySession(sent.append, opened.append)
    client = ClientSide()
    session.feed(client.syn_stream({"streamtype": "error"}))
    session.feed(client.syn_stream({"streamtype": "stdin"}))
    session.feed(f.control(f.PING, struct.pack(">I", 1)))
    session.feed(f.data(3, b"line one\n") + f.data(3, b"", fin=True))
    assert [s.headers["streamtype"] for s in opened] == ["error", "stdin"]
    frames = client.reader.feed(b"".join(sent))
    replies = [x for x in frames if isinstance(x, f.ControlFrame) and x.type == f.SYN_REPLY]
    assert [f.stream_id_of(r) for r in replies] == [1, 3]
    reply_codec = f.HeaderCodec()
    assert all(reply_codec.decode(r.payload[4:]) == {} for r in replies)
    pings = [x for x in frames if isinstance(x, f.ControlFrame) and x.type == f.PING]
    assert [p.payload for p in pings] == [struct.pack(">I", 1)]
    stdin = opened[1]
    assert stdin._inbound.get_nowait() == b"line one\n"
    assert stdin._inbound.get_nowait() == b""
    assert stdin.remote_done


def test_output_is_chunked_and_finished_once() -> None:
    sent: list[bytes] = []
    opened: list[SpdyStream] = []
    session = SpdySession(sent.append, opened.append)
    session.feed(ClientSide().syn_stream({"streamtype": "stdout"}))
    sent.clear()
    opened[0].write(b"x" * (f.MAX_DATA_CHUNK + 1))
    opened[0].close()
    opened[0].close()
    frames = f.FrameReader().feed(b"".join(sent))
    assert [(x.stream_id, len(x.data), x.fin) for x in frames if isinstance(x, f.DataFrame)] == [
        (1, f.MAX_DATA_CHUNK, False),
        (1, 1, False),
        (1, 0, True),
    ]


def test_goaway_and_garbage_end_every_stream() -> None:
    opened: list[SpdyStream] = []
    session = SpdySession(lambda _: None, opened.append)
    session.feed(ClientSide().syn_stream({"streamtype": "stdin"}))
    session.feed(f.goaway(1))
    assert session.closed.is_set() and opened[0].remote_done
    broken = SpdySession(lambda _: None, opened.append)
    broken.feed(b"\x80\x02\x00\x01\x00\x00\x00\x00")  # SPDY/2
    assert broken.closed.is_set()

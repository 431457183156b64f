"""SPDY/3.1 frames: parsing a byte stream into frames and writing them back.

Only what a Kubernetes streaming server needs (moby/spdystream is the
client side kubectl uses): SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS,
PING, GOAWAY, HEADERS, WINDOW_UPDATE and DATA. Every integer is
big-endian; a control frame is ``[1|version 3][type][flags][len24]``, a
data frame ``[0|stream id31][flags][len24]``, followed by ``len`` bytes.

Header blocks are ``u32 count`` then ``u32 len, name, u32 len, value``
pairs, deflated with the SPDY/3 dictionary. Each direction keeps ONE zlib
stream for the life of the connection (``HeaderCodec``), flushed with
``Z_SYNC_FLUSH`` after each block: a fresh context per frame is what Go's
reader refuses. ``FrameReader`` is incremental because frame boundaries
do not follow TCP reads or, in the WebSocket tunnel, message boundaries.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
VERSION = 3
MAX_FRAME = 1 << 24  # the 24-bit length field's limit
MAX_DATA_CHUNK = 32 * 1024  # what we put in one DATA frame (Go's spdystream writes <=32 KiB)

RST_PROTOCOL_ERROR = 1
RST_INVALID_STREAM = 2
RST_CANCEL = 5

# The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00 2.6.10.1): length-prefixed words,
# then a run of status lines, dates and media types. zlib checks it by its Adler-32 (e3c6a7c2).
_DICTIONARY_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
).split()
_DICTIONARY_WORDS += ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive"]
_DICTIONARY_WORDS += ["origin"]
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = (
    b"".join(len(w).to_bytes(4, "big") + w.encode() for w in _DICTIONARY_WORDS)
    + _DICTIONARY_TAIL.encode()
)
DICTIONARY_ID = 0xE3C6A7C2


class ProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3.1; the connection cannot go on."""


@dataclass(frozen=True, slots=True)
class ControlFrame:
    type: int
    flags: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


Frame = ControlFrame | DataFrame


class FrameReader:
    """Bytes in, whole frames out; keeps a partial frame until the rest arrives."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        buf = self._buffer
        start = 0
        while len(buf) - start >= 8:
            first, flags_len = struct.unpack_from(">II", buf, start)
            length = flags_len & 0xFFFFFF
            end = start + 8 + length
            if len(buf) < end:
                break
            payload = bytes(buf[start + 8 : end])
            flags = flags_len >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"SPDY version {version} is not 3")
                frames.append(ControlFrame(first & 0xFFFF, flags, payload))
            else:
                frames.append(DataFrame(first & 0x7FFFFFFF, flags, payload))
            start = end
        del buf[:start]
        return frames


class HeaderCodec:
    """One direction's header compression, or decompression, for a whole connection."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY
        )
        self._inflate = zlib.decompressobj(15, DICTIONARY)

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = bytearray(struct.pack(">I", len(headers)))
        for name, value in headers.items():
            for part in (name.lower().encode(), value.encode()):
                raw += struct.pack(">I", len(part)) + part
        return self._deflate.compress(bytes(raw)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"header block does not inflate: {exc}") from exc
        return parse_header_block(raw)


def parse_header_block(raw: bytes) -> dict[str, str]:
    """An uncompressed block as a dict; repeated values (NUL-separated) are kept joined."""
    try:
        (count,) = struct.unpack_from(">I", raw, 0)
        offset = 4
        headers: dict[str, str] = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, offset)
            name = raw[offset + 4 : offset + 4 + n].decode()
            offset += 4 + n
            (n,) = struct.unpack_from(">I", raw, offset)
            value = raw[offset + 4 : offset + 4 + n].decode()
            offset += 4 + n
            if offset > len(raw):
                raise ProtocolError("header block is shorter than its lengths say")
            headers[name.lower()] = value
        return headers
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed header block: {exc}") from exc


def control(frame_type: int, payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def data(stream_id: int, chunk: bytes, fin: bool = False) -> bytes:
    flags = FLAG_FIN if fin else 0
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(chunk)) + chunk


def syn_reply(stream_id: int, header_block: bytes) -> bytes:
    return control(SYN_REPLY, struct.pack(">I", stream_id) + header_block)


def rst_stream(stream_id: int, status: int) -> bytes:
    return control(RST_STREAM, struct.pack(">II", stream_id, status))


def goaway(last_stream_id: int, status: int = 0) -> bytes:
    return control(GOAWAY, struct.pack(">II", last_stream_id, status))


@dataclass(frozen=True, slots=True)
class SynStream:
    stream_id: int
    associated_id: int
    fin: bool
    header_block: bytes


def parse_syn_stream(frame: ControlFrame) -> SynStream:
    if len(frame.payload) < 10:
        raise ProtocolError("SYN_STREAM shorter than 10 bytes")
    stream_id, assoc = struct.unpack_from(">II", frame.payload, 0)
    return SynStream(
        stream_id & 0x7FFFFFFF, assoc & 0x7FFFFFFF, bool(frame.flags & FLAG_FIN), frame.payload[10:]
    )


def stream_id_of(frame: ControlFrame) -> int:
    """The stream a RST_STREAM, HEADERS or WINDOW_UPDATE frame is about."""
    if len(frame.payload) < 4:
        raise ProtocolError(f"control frame {frame.type} too short")
    return int(struct.unpack_from(">I", frame.payload, 0)[0]) & 0x7FFFFFFF

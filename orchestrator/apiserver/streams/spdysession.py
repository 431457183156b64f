"""A server's SPDY/3.1 session: streams the client opens, data both ways.

The session is transport-free: ``feed()`` takes whatever bytes arrived
(a TCP read, a WebSocket message) and ``write`` is a callable that sends
bytes on (``transport.write`` or a queue drained into WebSocket
messages). What kubectl's spdystream expects of a server, and what
happens when it does not get it:

- a SYN_REPLY for every SYN_STREAM: the client's stream creation blocks
  until it arrives (30 s, then the command fails);
- each PING echoed unchanged (a missed one is only logged by kubectl);
- each output stream ended by an empty DATA frame with FIN;
- RST_STREAM from the client ends the stream both ways; GOAWAY, or the
  connection ending, ends every stream.

Flow control (WINDOW_UPDATE) is ignored, as spdystream itself neither
sends nor honours it. Streams are handed to ``on_stream`` as they open;
reading one gives its data until FIN/RST (then ``b""``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from orchestrator.apiserver.streams import spdyframes as f

log = logging.getLogger(__name__)


class SpdyStream:
    """One client-opened stream: read what the client sends, write back, FIN."""

    def __init__(self, session: SpdySession, stream_id: int, headers: dict[str, str]) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self.remote_done = False  # the client sent FIN or reset
        self.local_done = False  # we sent FIN or reset

    async def read(self) -> bytes:
        """The next chunk from the client; ``b""`` once it sent FIN (or the stream ended)."""
        chunk = await self._inbound.get()
        if not chunk:
            self._inbound.put_nowait(b"")  # every later read sees the end too
        return chunk

    def write(self, chunk: bytes) -> None:
        if self.local_done or not chunk:
            return
        for start in range(0, len(chunk), f.MAX_DATA_CHUNK):
            self.session.send(f.data(self.id, chunk[start : start + f.MAX_DATA_CHUNK]))

    def close(self) -> None:
        """FIN: nothing more from us on this stream."""
        if not self.local_done:
            self.local_done = True
            self.session.send(f.data(self.id, b"", fin=True))

    def reset(self) -> None:
        if not self.local_done:
            self.local_done = True
            self.session.send(f.rst_stream(self.id, f.RST_CANCEL))
        self._remote_end()

    def _received(self, chunk: bytes) -> None:
        if chunk and not self.remote_done:
            self._inbound.put_nowait(chunk)

    def _remote_end(self) -> None:
        if not self.remote_done:
            self.remote_done = True
            self._inbound.put_nowait(b"")


class SpdySession:
    def __init__(
        self, write: Callable[[bytes], None], on_stream: Callable[[SpdyStream], None]
    ) -> None:
        self._write = write
        self._on_stream = on_stream
        self._reader = f.FrameReader()
        self._inflate = f.HeaderCodec()
        self._deflate = f.HeaderCodec()
        self.streams: dict[int, SpdyStream] = {}
        self.closed = asyncio.Event()  # the client went away or said GOAWAY
        self._last_id = 0

    def send(self, frame: bytes) -> None:
        if not self.closed.is_set():
            self._write(frame)

    def feed(self, chunk: bytes) -> None:
        """Handle what arrived; a protocol error ends the session."""
        try:
            frames = self._reader.feed(chunk)
            for frame in frames:
                if isinstance(frame, f.DataFrame):
                    self._data(frame)
                else:
                    self._control(frame)
        except f.ProtocolError as exc:
            log.info("SPDY session ended: %s", exc)
            self.send(f.goaway(self._last_id, 1))
            self.feed_eof()

    def feed_eof(self) -> None:
        """The connection ended: every stream ends."""
        self.closed.set()
        for stream in self.streams.values():
            stream.local_done = True
            stream._remote_end()

    def _data(self, frame: f.DataFrame) -> None:
        stream = self.streams.get(frame.stream_id)
        if stream is None:
            return  # data for a stream already reset: spdystream sends it in races
        stream._received(frame.data)
        if frame.fin:
            stream._remote_end()

    def _control(self, frame: f.ControlFrame) -> None:
        if frame.type == f.SYN_STREAM:
            syn = f.parse_syn_stream(frame)
            headers = self._inflate.decode(syn.header_block)
            if syn.stream_id in self.streams or syn.stream_id % 2 == 0:
                self.send(f.rst_stream(syn.stream_id, f.RST_PROTOCOL_ERROR))
                return
            self._last_id = max(self._last_id, syn.stream_id)
            stream = SpdyStream(self, syn.stream_id, headers)
            self.streams[syn.stream_id] = stream
            self.send(f.syn_reply(syn.stream_id, self._deflate.encode({})))
            if syn.fin:
                stream._remote_end()
            self._on_stream(stream)
        elif frame.type == f.PING:
            self.send(f.control(f.PING, frame.payload))
        elif frame.type == f.RST_STREAM:
            reset = self.streams.get(f.stream_id_of(frame))
            if reset is not None:
                reset.local_done = True
                reset._remote_end()
        elif frame.type == f.GOAWAY:
            self.feed_eof()
        elif frame.type == f.HEADERS:
            self._inflate.decode(frame.payload[4:])  # keeps the zlib stream in step
        # SETTINGS, WINDOW_UPDATE and anything newer: nothing to do

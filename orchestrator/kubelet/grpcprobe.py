"""The ``grpc`` probe: one call of the standard health service, as the kubelet makes it.

A container is healthy when ``grpc.health.v1.Health/Check`` for the probe's
``service`` (empty: the server as a whole) answers ``SERVING``. The call is
plain gRPC over HTTP/2 without TLS (as Kubernetes' probe: no certificates),
spoken with the ``h2`` protocol library over an asyncio connection; the two
messages are small enough to encode by hand (protobuf field 1 of each: the
request's ``service`` string, the response's ``status`` enum), so no
generated code or gRPC runtime is needed in the node agent.

Failures read like the kubelet's: a refused or timed-out connection, a
non-zero ``grpc-status`` (``NOT_FOUND`` for an unknown service name), or a
status other than SERVING ("service unhealthy (responded with
"NOT_SERVING")").
"""

from __future__ import annotations

import asyncio
import contextlib

import h2.config
import h2.connection
import h2.events

CHECK_PATH = "/grpc.health.v1.Health/Check"
STATUSES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
GRPC_CODES = {
    1: "Canceled",
    2: "Unknown",
    3: "InvalidArgument",
    4: "DeadlineExceeded",
    5: "NotFound",
    7: "PermissionDenied",
    12: "Unimplemented",
    13: "Internal",
    14: "Unavailable",
    16: "Unauthenticated",
}


def encode_request(service: str) -> bytes:
    """HealthCheckRequest{service} as a gRPC length-prefixed message."""
    name = service.encode()
    body = b"" if not name else b"\x0a" + _varint(len(name)) + name
    return b"\x00" + len(body).to_bytes(4, "big") + body


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_status(frame: bytes) -> int:
    """The ``status`` of a length-prefixed HealthCheckResponse (0, UNKNOWN, when absent)."""
    if len(frame) < 5 or frame[0] != 0:
        raise ValueError("not an uncompressed gRPC message")
    body = frame[5 : 5 + int.from_bytes(frame[1:5], "big")]
    i = 0
    while i < len(body):
        key, i = _read_varint(body, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(body, i)
            if field == 1:
                return value
        elif wire == 2:
            size, i = _read_varint(body, i)
            i += size
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return 0


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


async def grpc_check(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    """(healthy, why not) for one Health/Check call to ``host:port``."""
    target = f"{host}:{port}"
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            headers, body = await _call(reader, writer, target, encode_request(service))
    except TimeoutError:
        return False, f"timeout: health rpc did not complete within {timeout:g}s"
    except OSError as exc:
        return False, f"timeout: failed to connect service {target!r} within {timeout:g}s: {exc}"
    except ValueError as exc:
        return False, f"health rpc to {target!r}: {exc}"
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    code = int(headers.get("grpc-status", "2") or 2)
    if code != 0:
        name = GRPC_CODES.get(code, str(code))
        return (
            False,
            f"health rpc failed: rpc error: code = {name} desc = {headers.get('grpc-message', '')}",
        )
    status = decode_status(body)
    if status != 1:
        return False, f'service unhealthy (responded with "{STATUSES.get(status, status)}")'
    return True, ""


async def _call(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: str, message: bytes
) -> tuple[dict[str, str], bytes]:
    """Send one unary call; return the response headers and trailers merged, and the body."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(
        stream,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", CHECK_PATH),
            (":authority", authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("user-agent", "paas-kubelet-probe"),
        ],
    )
    conn.send_data(stream, message, end_stream=True)
    writer.write(conn.data_to_send())
    headers: dict[str, str] = {}
    body = bytearray()
    while True:
        data = await reader.read(65536)
        if not data:
            raise ValueError("the server closed the connection mid-call")
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                headers.update({_text(k): _text(v) for k, v in event.headers})
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                raise ValueError(f"the server reset the stream (error {event.error_code})")
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise ValueError(f"the server ended the connection (error {event.error_code})")
            elif isinstance(event, h2.events.StreamEnded):
                return headers, bytes(body)
        writer.write(conn.data_to_send())
        await writer.drain()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value

"""Port-forward over a WebSocket: the node's side of ``kubectl port-forward``.

``GET /portForward/{namespace}/{pod}?port=P`` upgraded to a WebSocket with
subprotocol ``v4.channel.k8s.io`` (or none), the kubelet's own protocol
(its ``portforward/websocket.go``): for the i-th ``port`` parameter,
channel ``2i`` carries data both ways and channel ``2i+1`` error text from
the node; the node's first message on each channel is the port as two
bytes, little-endian. The API server opens one socket per TCP connection
kubectl accepts, so each port here means one connection to the pod.

Where the connection starts from:

- a pod with a network namespace (root mode, both runtimes): a socket made
  inside it, so ``127.0.0.1:P`` is the pod's own loopback, as on
  Kubernetes. ``setns`` is per thread, and Python 3.11 has no
  ``os.setns``: a thread of its own (never a pooled one) enters the
  namespace through libc, makes the socket (a socket stays in the
  namespace it was made in), and goes back. Where that fails (no right to
  enter), or nothing listens on the pod's loopback, the pod IP is dialled
  from the node instead: a server bound to its pod's address only (as
  ``examples/web.yaml`` binds, so that pods without root do not collide)
  is reached too, where Kubernetes would refuse.
- loopback mode: the pod's own 127.x address.

A refused connection is error text on the port's error channel, in the
kubelet's words, and the socket is closed. Then bytes flow until either side
closes: the pod's EOF closes the WebSocket, the client's close (or an error)
closes the TCP connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import threading
from dataclasses import dataclass

from aiohttp import WSMsgType, web
from multidict import MultiMapping

from orchestrator.kubelet.remotecommand import StreamRequestError
from orchestrator.kubelet.runtimes.base import PortTarget

PROTOCOLS = ("v4.channel.k8s.io",)  # and none: aiohttp then answers without one
CLONE_NEWNET = 0x40000000
READ_SIZE = 65536


@dataclass(frozen=True)
class ForwardRequest:
    """Whom to connect to, for the error texts too."""

    namespace: str
    pod: str
    uid: str
    ports: tuple[int, ...]


def forward_ports(query: MultiMapping[str]) -> tuple[int, ...]:
    """The ``port`` parameters (``ports``, comma-separated, as the API server names it, too)."""
    values = [*query.getall("port", []), *query.getall("ports", [])]
    ports = []
    for value in values:
        for part in value.split(","):
            try:
                port = int(part)
            except ValueError:
                raise StreamRequestError(
                    400, f'invalid port "{part}": it must be a number from 1 to 65535'
                ) from None
            if not 0 < port < 65536:
                raise StreamRequestError(400, f"port {port} must be from 1 to 65535")
            ports.append(port)
    if not ports:
        raise StreamRequestError(400, 'query parameter "port" is required')
    return tuple(ports)


def _enter_netns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def socket_in_netns(netns: str) -> socket.socket:
    """A TCP socket made inside the network namespace ``netns`` (blocking; its own thread)."""
    result: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            result.append(exc)
            return
        try:
            _enter_netns(netns)
            try:
                result.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            finally:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(own, CLONE_NEWNET) != 0:  # cannot go back: end the thread
                    result.append(OSError(ctypes.get_errno(), "setns back"))
        except BaseException as exc:  # handed to the caller
            result.append(exc)
        finally:
            os.close(own)

    worker = threading.Thread(target=make, name="netns-socket", daemon=True)
    worker.start()
    worker.join()
    sockets = [r for r in result if isinstance(r, socket.socket)]
    errors = [r for r in result if isinstance(r, BaseException)]
    if errors:
        for sock in sockets:
            sock.close()
        raise errors[0]
    return sockets[0]


def destination(target: PortTarget, port: int) -> str:
    """Where a connection to ``port`` goes, in the kubelet's words."""
    if target.netns:
        return f"localhost:{port} inside namespace {target.netns}"
    return f"{target.ip}:{port}"


async def connect(
    target: PortTarget, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to ``port`` of the pod; OSError when the pod refuses it."""
    if target.netns:
        try:
            sock = await asyncio.to_thread(socket_in_netns, target.netns)
        except OSError:
            sock = None  # no way into the namespace: the pod's address from the node
        if sock is not None:
            sock.setblocking(False)
            try:
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
                return await asyncio.open_connection(sock=sock)
            except ConnectionRefusedError:
                sock.close()  # nothing on the pod's loopback: its address, below
                if not target.ip:
                    raise
            except BaseException:  # the client went away meanwhile
                sock.close()
                raise
    return await asyncio.open_connection(target.ip, port)


async def serve_forward(
    ws: web.WebSocketResponse, request: ForwardRequest, target: PortTarget
) -> None:
    """Connect each port, then carry its bytes until either side is done."""
    for index, port in enumerate(request.ports):
        prefix = port.to_bytes(2, "little")
        await ws.send_bytes(bytes([2 * index]) + prefix)
        await ws.send_bytes(bytes([2 * index + 1]) + prefix)
    streams: dict[int, asyncio.StreamWriter] = {}
    pumps = []
    try:
        for index, port in enumerate(request.ports):
            try:
                reader, writer = await connect(target, port)
            except OSError as exc:
                why = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
                text = (
                    f"error forwarding port {port} to pod {request.namespace}/{request.pod}, "
                    f"uid {request.uid}: failed to connect to {destination(target, port)}: {why}"
                )
                await ws.send_bytes(bytes([2 * index + 1]) + text.encode())
                return
            streams[2 * index] = writer
            pumps.append(asyncio.create_task(_from_pod(ws, 2 * index, reader)))
        inbound = asyncio.create_task(_from_client(ws, streams))
        await asyncio.wait({inbound, *pumps}, return_when=asyncio.FIRST_COMPLETED)
        inbound.cancel()
        for task in pumps:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await asyncio.gather(inbound, *pumps, return_exceptions=True)
    finally:
        for writer in streams.values():  # all at once: a cancelled wait below leaks none
            writer.close()
        for writer in streams.values():
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close()


async def _from_pod(ws: web.WebSocketResponse, channel: int, reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(READ_SIZE):
            await ws.send_bytes(bytes([channel]) + chunk)


async def _from_client(ws: web.WebSocketResponse, streams: dict[int, asyncio.StreamWriter]) -> None:
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or len(msg.data) < 2:
            continue
        writer = streams.get(msg.data[0])
        if writer is not None:
            writer.write(msg.data[1:])
            await writer.drain()

"""The grpc probe against a real gRPC server (grpcio with its standard health service)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from orchestrator.kubelet.grpcprobe import decode_status, encode_request, grpc_check
from orchestrator.kubelet.probes import run_probe


@pytest.fixture
def server() -> Iterator[tuple[int, health.HealthServicer]]:
    servicer = health.HealthServicer()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    try:
        yield port, servicer
    finally:
        srv.stop(None).wait()


def test_messages_match_the_protobuf_encoding() -> None:
    request = health_pb2.HealthCheckRequest(service="shop.Cart").SerializeToString()
    assert encode_request("shop.Cart") == b"\x00" + len(request).to_bytes(4, "big") + request
    assert encode_request("") == b"\x00\x00\x00\x00\x00"
    for status in (0, 1, 2, 3):
        body = health_pb2.HealthCheckResponse(status=status).SerializeToString()
        assert decode_status(b"\x00" + len(body).to_bytes(4, "big") + body) == status


async def test_serving_passes_and_not_serving_fails_naming_the_status(
    server: tuple[int, health.HealthServicer],
) -> None:
    port, servicer = server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert await grpc_check("127.0.0.1", port, "", 2) == (True, "")
    servicer.set("shop.Cart", health_pb2.HealthCheckResponse.NOT_SERVING)
    healthy, why = await grpc_check("127.0.0.1", port, "shop.Cart", 2)
    assert not healthy and why == 'service unhealthy (responded with "NOT_SERVING")'


async def test_an_unknown_service_fails_with_the_grpc_code(
    server: tuple[int, health.HealthServicer],
) -> None:
    healthy, why = await grpc_check("127.0.0.1", server[0], "no.Such", 2)
    assert not healthy and "code = NotFound" in why


async def test_nothing_listening_fails_at_once() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    healthy, why = await grpc_check("127.0.0.1", port, "", 2)
    assert not healthy and "failed to connect" in why


async def test_a_probe_with_a_grpc_handler_uses_it(
    server: tuple[int, health.HealthServicer],
) -> None:
    port, servicer = server
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    probe = {"grpc": {"port": port}, "timeoutSeconds": 2}
    result = await run_probe(probe, {"name": "app"}, "cid", "127.0.0.1", runtime=None)  # type: ignore[arg-type]
    assert not result.ok and "NOT_SERVING" in result.message
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert (await run_probe(probe, {"name": "app"}, "cid", "127.0.0.1", runtime=None)).ok  # type: ignore[arg-type]

"""Slow, idle and oversized clients cannot lock others out of the API server.

Real sockets against a real server: plain TCP that never starts TLS, TLS
connections that send half a request, headers beyond the cap, more
connections than the cap, and requests over the in-flight limit.
"""

from __future__ import annotations

import selectors
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.apiserver import RunningAPI, start_api
from support.wait import wait_until

from orchestrator.apiserver.auth import add_token
from orchestrator.apiserver.connections import ConnectionSettings
from orchestrator.apiserver.inflight import InFlightSettings

PODS = "/api/v1/namespaces/default/pods"
PARTIAL = b"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n"


@pytest.fixture
def short_timeouts(tmp_path: Path) -> Iterator[RunningAPI]:
    api = start_api(
        tmp_path / "api",
        connections=ConnectionSettings(header_timeout=2.0, max_connections=3000),
    )
    try:
        yield api
    finally:
        api.stop()


def _address(api: RunningAPI) -> tuple[str, int]:
    url = urlsplit(api.url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def _plain(api: RunningAPI) -> socket.socket:
    return socket.create_connection(_address(api), timeout=10)


def _tls(api: RunningAPI) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(api.ca))
    return context.wrap_socket(_plain(api), server_hostname="127.0.0.1")


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the peer closed ``sock`` (EOF or reset), reading what is pending."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (BlockingIOError, ssl.SSLWantReadError, TimeoutError):
        return False
    except (ConnectionResetError, ssl.SSLError, OSError):
        return True


def _wait_all_closed(socks: list[socket.socket], timeout: float) -> None:
    open_ones = set(socks)
    for sock in socks:
        sock.setblocking(False)
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)

    def all_closed() -> bool:
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if _closed_by_server(sock):
                selector.unregister(sock)
                open_ones.discard(sock)
        return not open_ones

    try:
        wait_until(all_closed, timeout, f"{len(open_ones)} idle connections still open")
    finally:
        selector.close()


def test_half_sent_headers_and_sockets_without_tls_are_dropped_after_the_header_timeout(
    short_timeouts: RunningAPI,
) -> None:
    plain, tls = _plain(short_timeouts), _tls(short_timeouts)
    tls.sendall(PARTIAL)
    try:
        _wait_all_closed([plain, tls], timeout=10)
    finally:
        plain.close()
        tls.close()


def test_headers_beyond_the_cap_are_answered_431(short_timeouts: RunningAPI) -> None:
    with _tls(short_timeouts) as sock:
        sock.sendall(PARTIAL + b"X-Big: " + b"a" * (80 * 1024) + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_one_endless_header_is_cut_at_the_cap(short_timeouts: RunningAPI) -> None:
    with _tls(short_timeouts) as sock:
        sock.sendall(PARTIAL + b"X-Endless: ")
        for _ in range(5):  # 80 KiB of one header value, never ended; all read by the server,
            # so its close is orderly and the 431 arrives (no reset for unread data)
            sock.sendall(b"a" * 16384)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_request_with_a_large_body_is_not_mistaken_for_large_headers(
    short_timeouts: RunningAPI,
) -> None:
    with short_timeouts.http() as http:
        r = http.post(
            "/api/v1/namespaces/default/configmaps",
            json={"metadata": {"name": "big"}, "data": {"a": "x" * 500_000}},
        )
    assert r.status_code == 201, r.text[:300]


def test_two_thousand_idle_connections_leave_other_clients_served_and_are_dropped(
    short_timeouts: RunningAPI,
) -> None:
    idle: list[socket.socket] = []
    try:
        for _ in range(1700):  # never start TLS
            idle.append(_plain(short_timeouts))
        for _ in range(300):  # TLS, then half a request
            sock = _tls(short_timeouts)
            sock.sendall(PARTIAL)
            idle.append(sock)
        with short_timeouts.http() as http:
            r = http.get(PODS)
            assert r.status_code == 200
            assert r.json()["kind"] == "PodList"
        _wait_all_closed(idle, timeout=30)
    finally:
        for sock in idle:
            sock.close()


def test_beyond_the_connection_cap_the_oldest_waiting_connection_makes_room(
    tmp_path: Path,
) -> None:
    api = start_api(tmp_path / "api", connections=ConnectionSettings(max_connections=20))
    waiting: list[ssl.SSLSocket] = []
    try:
        waiting = [_tls(api) for _ in range(20)]
        with api.http() as http:  # the 21st connection: the oldest waiting one goes
            assert http.get(PODS).status_code == 200
        _wait_all_closed(waiting[:1], timeout=10)
    finally:
        for sock in waiting:
            sock.close()
        api.stop()


def test_requests_over_the_inflight_limit_get_429_and_the_admin_and_watches_are_exempt(
    tmp_path: Path,
) -> None:
    api = start_api(tmp_path / "api", inflight=InFlightSettings(max_reads=0, max_writes=0))
    try:
        alice = add_token(api.data_dir / "tokens.json", user="alice", groups=["team-a"])
        with api.http() as admin:  # alice may edit: what she is refused is the 429's doing
            binding = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "alice-edit"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "edit",
                },
                "subjects": [
                    {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}
                ],
            }
            url = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
            assert admin.post(url, json=binding).status_code == 201
        with api.http(alice) as http:
            r = http.get(PODS)
            assert r.status_code == 429
            assert r.headers["Retry-After"] == "1"
            assert r.json()["message"] == "Too many requests, please try again later."
            assert r.json()["reason"] == "TooManyRequests"
            r = http.post(PODS, json={"metadata": {"name": "p"}})
            assert r.status_code == 429
            with http.stream("GET", f"{PODS}?watch=1&timeoutSeconds=1") as watch:
                assert watch.status_code == 200
        with api.http() as admin:  # system:masters
            assert admin.get(PODS).status_code == 200
    finally:
        api.stop()

"""What only the etcd store has: endpoints, and what callers see when etcd is unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import pytest
from support.engines import require_engine
from support.etcd import EtcdProcess, etcd_available

from orchestrator.store.base import StoreUnavailable
from orchestrator.store.etcd import Endpoint, EtcdStore, parse_endpoints

pytestmark = pytest.mark.etcd


def _closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_etcd() -> Iterator[EtcdProcess]:
    """An etcd of the test's own, for tests that stop it."""
    require_engine("etcd", etcd_available(), "etcd not installed")
    etcd = EtcdProcess().start()
    try:
        yield etcd
    finally:
        etcd.stop()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:2379", [Endpoint("127.0.0.1", 2379)]),
        ("http://127.0.0.1:23790", [Endpoint("127.0.0.1", 23790)]),
        ("etcd-a:1, http://etcd-b:2,", [Endpoint("etcd-a", 1), Endpoint("etcd-b", 2)]),
        (["a:1,b:2", "c"], [Endpoint("a", 1), Endpoint("b", 2), Endpoint("c", 2379)]),
        ("http://[::1]:2379", [Endpoint("[::1]", 2379)]),
    ],
)
def test_endpoints_are_parsed_from_lists_and_comma_separated_strings(given, expected):
    assert parse_endpoints(given) == expected


@pytest.mark.parametrize("given", ["", " , ", "https://etcd:2379", "unix:///run/etcd.sock"])
def test_unusable_endpoints_are_refused(given):
    with pytest.raises(ValueError):
        parse_endpoints(given)


async def test_open_uses_the_first_endpoint_that_answers(etcd_endpoint):
    dead = f"127.0.0.1:{_closed_port()}"
    store = await EtcdStore(f"{dead},http://{etcd_endpoint}", connect_timeout=2).open()
    try:
        assert store.endpoint == etcd_endpoint
        assert await store.current_revision() > 0
    finally:
        await store.close()


async def test_open_with_no_live_endpoint_raises_unavailable_naming_them():
    dead = [f"127.0.0.1:{_closed_port()}", f"127.0.0.1:{_closed_port()}"]

    with pytest.raises(StoreUnavailable) as raised:
        await EtcdStore(dead, connect_timeout=2).open()

    for endpoint in dead:
        assert endpoint in str(raised.value)


async def test_calls_and_watches_raise_unavailable_when_etcd_goes_away(private_etcd):
    store = await EtcdStore(private_etcd.endpoint, request_timeout=5).open()
    try:
        start = await store.current_revision()
        revision = await store.create("/k", b"v")
        async with contextlib.aclosing(store.watch("/", start)) as events:
            async with asyncio.timeout(10):
                assert (await anext(events)).revision == revision

            await asyncio.to_thread(private_etcd.stop)

            async with asyncio.timeout(15):
                with pytest.raises(StoreUnavailable, match=private_etcd.endpoint):
                    await anext(events)
                with pytest.raises(StoreUnavailable, match=private_etcd.endpoint):
                    await store.get("/k")
    finally:
        await store.close()


async def test_calls_after_close_raise_unavailable(etcd_endpoint):
    store = await EtcdStore(etcd_endpoint).open()
    await store.close()

    with pytest.raises(StoreUnavailable):
        await store.get("/k")

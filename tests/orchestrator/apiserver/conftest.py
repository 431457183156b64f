"""Fixtures for API server tests that start their own servers (short timers, two servers)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from support.apiserver import RunningAPI, store_for
from support.lognode import LogNode, start_log_node


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def store_spec(request: pytest.FixtureRequest) -> str:
    """A store for ``start_api`` on each backend: "sqlite", or a wiped "etcd://host:port"."""
    return store_for(request)


@pytest.fixture
async def http(sqlite_api: RunningAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An async HTTPS client of ``sqlite_api`` with the admin's token."""
    async with httpx.AsyncClient(
        base_url=sqlite_api.url,
        verify=ssl.create_default_context(cafile=str(sqlite_api.ca)),
        headers={"Authorization": f"Bearer {sqlite_api.token}"},
        timeout=30,
    ) as h:
        yield h


@pytest.fixture
def log_node(sqlite_api: RunningAPI, tmp_path: Path) -> Iterator[LogNode]:
    """A real node agent registered with ``sqlite_api`` (support/lognode.py)."""
    node = start_log_node(sqlite_api, tmp_path / "node")
    try:
        yield node
    finally:
        node.stop()

"""Loopback backends for the userspace proxy's tests (shared by test_proxier and test_userspace)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.proxynet import Net, Proxy, loopback_backends, running_proxy


@pytest.fixture(scope="module")
def loopback_net() -> Iterator[Net]:
    """Backends ``a`` and ``b`` on loopback addresses of their own (127.206.x.2 and .3)."""
    with loopback_backends(random.randrange(1, 255)) as net:
        yield net


@pytest.fixture
async def userspace(loopback_net: Net, tmp_path: Path) -> AsyncIterator[Proxy]:
    async with running_proxy("userspace", loopback_net, tmp_path / "api") as running:
        yield running

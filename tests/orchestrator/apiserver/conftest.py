"""Fixtures for API server tests that start their own servers (short timers, two servers)."""

from __future__ import annotations

import pytest
from support.apiserver import wipe_etcd


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def store_spec(request: pytest.FixtureRequest) -> str:
    """A store for ``start_api`` on each backend: "sqlite", or a wiped "etcd://host:port"."""
    if request.param == "sqlite":
        return "sqlite"
    endpoint = request.getfixturevalue("etcd_endpoint")
    wipe_etcd(endpoint)
    return f"etcd://{endpoint}"

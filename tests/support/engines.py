"""One rule for tests that need an outside engine (etcd, Docker, kubectl).

A developer without the engine gets a skip; CI sets ``PAAS_REQUIRE_ENGINES=1``
so that a missing engine fails the run instead of silently skipping the tests
that matter most.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_ENGINES_ENV = "PAAS_REQUIRE_ENGINES"


def require_engine(name: str, available: bool, why: str) -> None:
    """Return if ``name`` is available; otherwise skip, or fail when engines are required."""
    if available:
        return
    if os.environ.get(REQUIRE_ENGINES_ENV) == "1":
        pytest.fail(f"{why}; {REQUIRE_ENGINES_ENV}=1 requires {name}", pytrace=False)
    pytest.skip(why)

"""Hypothesis profiles for the fuzzing of the API server, and the stores it runs on.

``quick`` (the default) keeps each property to a few seconds in ``make
test``; ``long`` is for a run on purpose (``pytest --hypothesis-profile=long
tests/orchestrator/apiserver/limits``). Neither keeps an example database:
a failure prints its example, and the fixed corpus is where it then goes.

``limits_store`` runs a module's server once per backend: SQLite, then etcd
(wiped first). A refusal must change nothing on either, and etcd's store
answers errors and revisions through other code than SQLite's.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from support.apiserver import store_for

_COMMON = {
    "database": None,
    "deadline": None,  # a real server on a shared machine: time is measured in bench/, not here
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("quick", max_examples=40, **_COMMON)
settings.register_profile("long", max_examples=3000, **_COMMON)
settings.load_profile("quick")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def limits_store(request: pytest.FixtureRequest) -> str:
    """A store for a module's ``start_api``: "sqlite", or a wiped "etcd://host:port"."""
    return store_for(request)

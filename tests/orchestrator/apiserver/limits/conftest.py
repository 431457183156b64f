"""Hypothesis profiles for the fuzzing of the API server.

``quick`` (the default) keeps each property to a few seconds in ``make
test``; ``long`` is for a run on purpose (``pytest --hypothesis-profile=long
tests/orchestrator/apiserver/limits``). Neither keeps an example database:
a failure prints its example, and the fixed corpus is where it then goes.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {
    "database": None,
    "deadline": None,  # a real server on a shared machine: time is measured in bench/, not here
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("quick", max_examples=40, **_COMMON)
settings.register_profile("long", max_examples=3000, **_COMMON)
settings.load_profile("quick")

"""The builder's Prometheus metrics (no Kubernetes counterpart: the ``paas_builder_`` prefix).

- ``paas_builder_builds_total{result}``: builds ended, ``Succeeded``,
  ``Failed`` or ``Cancelled``;
- ``paas_builder_build_duration_seconds{result}``: from the build process
  starting to its outcome (detect, compile, slug or image);
- ``paas_builder_pushes_total{result}``: git pushes that reached a build,
  ``deployed`` (accepted) or ``refused`` (a failed build or deploy: what was
  live stays live).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# builds take seconds to minutes: 1 s to 30 min
BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0)

BUILDS = Counter("paas_builder_builds", "Builds ended, by result", ["result"])
BUILD_DURATION = Histogram(
    "paas_builder_build_duration_seconds",
    "Time from a build's start to its outcome, by result",
    ["result"],
    buckets=BUCKETS,
)
PUSHES = Counter(
    "paas_builder_pushes", "Git pushes that reached a build, by what became of them", ["result"]
)

"""Small statistics for benchmark reports: medians and tail percentiles."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank; 0.0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class Latency:
    count: int
    rate: float  # operations per second over the whole run
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, samples: list[float], elapsed: float) -> Latency:
        return cls(
            count=len(samples),
            rate=len(samples) / elapsed if elapsed > 0 else 0.0,
            p50_ms=statistics.median(samples) * 1000 if samples else 0.0,
            p99_ms=percentile(samples, 99) * 1000,
        )

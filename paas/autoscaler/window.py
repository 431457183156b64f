"""Samples in time buckets, averaged over a trailing window (Knative's bucketing).

A sample is the average concurrency (or request rate) seen over one scrape
interval, recorded at the time it was measured into a bucket of
``granularity`` seconds (two samples in one bucket are averaged). The
average over a window counts every bucket slot from the window's start,
or from the first sample if the data is younger than the window, to now:
a slot with no sample is a second nobody measured any load, a zero, which
is how an idle revision's average decays to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Buckets:
    granularity: float = 1.0
    keep: float = 3600.0  # seconds of history kept (the longest window asked for)
    _sums: dict[int, float] = field(default_factory=dict)
    _counts: dict[int, int] = field(default_factory=dict)
    _first: int | None = None

    def _slot(self, t: float) -> int:
        return math.floor(t / self.granularity)

    def record(self, t: float, value: float) -> None:
        slot = self._slot(t)
        self._sums[slot] = self._sums.get(slot, 0.0) + value
        self._counts[slot] = self._counts.get(slot, 0) + 1
        if self._first is None or slot < self._first:
            self._first = slot
        oldest = slot - math.ceil(self.keep / self.granularity)
        for old in [s for s in self._sums if s < oldest]:
            del self._sums[old], self._counts[old]

    def average(self, now: float, window: float) -> float:
        """The mean over the trailing ``window`` seconds up to ``now`` (0 with no data)."""
        if self._first is None:
            return 0.0
        end = self._slot(now)
        start = max(end - max(1, round(window / self.granularity)) + 1, self._first)
        if start > end:
            return 0.0
        total = sum(
            self._sums[s] / self._counts[s] for s in range(start, end + 1) if s in self._sums
        )
        return total / (end - start + 1)

    def empty_since(self, now: float, window: float) -> bool:
        """No non-zero sample within the trailing ``window``."""
        return self.average(now, window) == 0.0

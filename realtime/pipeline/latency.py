"""A run's latencies in constant memory, however long it runs.

A live run may go on for days at 30-60 fps: keeping every sample grew without bound. Here the
last ``capacity`` samples are kept as they were (for windows such as "the first minute" of a
benchmark or soak test, addressed by sample number) and every sample goes into a histogram
with log-spaced bins, from which the whole run's percentiles are read to within
``resolution`` (relative), with exact count, minimum and maximum.
"""

from __future__ import annotations

import math

import numpy as np

CAPACITY = 1 << 17  # raw samples kept: ~73 minutes at 30 fps, 1 MiB
LOW_MS, HIGH_MS = 0.01, 1e7  # histogram range; samples outside land in the end bins


class LatencyLog:
    """Latency samples (ms) numbered from 0 in arrival order. Not thread-safe: ``Stats``
    holds its lock around every call."""

    def __init__(self, capacity: int = CAPACITY, resolution: float = 0.01) -> None:
        if capacity < 1 or not 0 < resolution < 1:
            raise ValueError("capacity must be >= 1 and resolution in (0, 1)")
        self.capacity = capacity
        self._ring = np.empty(capacity, np.float64)
        self._log_step = math.log1p(resolution)
        self._bins = np.zeros(math.ceil(math.log(HIGH_MS / LOW_MS) / self._log_step) + 1, np.int64)
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, ms: float) -> None:
        self._ring[self.count % self.capacity] = ms
        self.count += 1
        self._bins[self._bin(ms)] += 1
        self.min = min(self.min, ms)
        self.max = max(self.max, ms)

    def _bin(self, ms: float) -> int:
        if ms <= LOW_MS:
            return 0
        return min(int(math.log(ms / LOW_MS) / self._log_step) + 1, self._bins.size - 1)

    def recent(self, since: int = 0, until: int | None = None) -> np.ndarray:
        """Samples numbered ``since`` (inclusive) to ``until`` (exclusive; default: all so
        far) that are still held, oldest first: only the last ``capacity`` are."""
        end = self.count if until is None else min(until, self.count)
        start = max(since, self.count - self.capacity, 0)
        if start >= end:
            return np.empty(0, np.float64)
        idx = np.arange(start, end) % self.capacity
        return self._ring[idx].copy()

    def percentile(self, q: float) -> float:
        """The whole run's ``q``-th percentile (0-100), within ``resolution``; NaN when empty."""
        if self.count == 0:
            return math.nan
        rank = q / 100.0 * (self.count - 1)
        cum = np.cumsum(self._bins)
        b = int(np.searchsorted(cum, math.floor(rank) + 1))
        # The geometric middle of bin b, which holds [LOW * step^(b-1), LOW * step^b).
        value = LOW_MS if b == 0 else LOW_MS * math.exp((b - 0.5) * self._log_step)
        return float(min(max(value, self.min), self.max))

    def summary(self) -> dict[str, float]:
        """p50, p95, p99, max and n of the whole run, rounded like ``stats.percentiles``."""
        if self.count == 0:
            return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan, "n": 0}
        out = {f"p{q}": round(self.percentile(q), 3) for q in (50, 95, 99)}
        return {**out, "max": round(self.max, 3), "n": self.count}

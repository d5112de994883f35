"""A long run's latency record stays bounded (it grew by one entry a frame), while the
whole run's percentiles and the sample windows that benchmarks and the soak test take stay
correct."""

from __future__ import annotations

import tracemalloc

import numpy as np

from realtime.pipeline.stats import Stats


def _feed(stats: Stats, samples: np.ndarray) -> None:
    now = 1000.0
    for ms in samples.tolist():
        stats.output_one(now - ms / 1000.0, now)
        now += 1 / 30


def test_latency_record_stays_bounded_and_percentiles_stay_right() -> None:
    rng = np.random.default_rng(7)
    # 400 000 frames (3.7 hours at 30 fps), lognormal around 40 ms with a slow tail.
    samples = rng.lognormal(mean=np.log(40.0), sigma=0.5, size=400_000)
    stats = Stats()
    _feed(stats, samples[:100_000])  # warm: every bounded buffer has reached its size
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _feed(stats, samples[100_000:])
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, f"{grown} bytes more after 300 000 more frames"

    snap = stats.snapshot()
    run = snap["latency_ms_run"]
    assert run["n"] == stats.latency_count() == snap["processed"] == samples.size
    for q in (50, 95, 99):
        exact = float(np.percentile(samples, q))
        assert abs(run[f"p{q}"] - exact) <= 0.01 * exact, (q, run[f"p{q}"], exact)
    assert run["max"] == round(float(samples.max()), 3)


def test_sample_windows_by_number_still_work() -> None:
    samples = np.random.default_rng(3).uniform(5.0, 80.0, size=300_000)
    stats = Stats()
    _feed(stats, samples)
    n = stats.latency_count()
    held = stats.latencies()
    assert 0 < len(held) < n  # bounded: the oldest are gone...
    np.testing.assert_allclose(held, samples[n - len(held) :], atol=1e-6)  # ...the newest kept, in order
    window = stats.latencies(n - 5000, n - 1000)  # e.g. "the first minute" after a warm-up
    np.testing.assert_allclose(window, samples[n - 5000 : n - 1000], atol=1e-6)
    assert stats.latencies(0, 10) == []  # long gone: nothing, rather than wrong samples

"""One Euro filter: steady at rest, quick in motion, scale-free, resettable."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.smoothing import OneEuroFilter


def _run(f: OneEuroFilter, xs: np.ndarray, dt: float = 1 / 30, scale: float = 1.0) -> np.ndarray:
    return np.stack([f(x, i * dt, scale) for i, x in enumerate(xs)])


def test_constant_input_passes_unchanged() -> None:
    f = OneEuroFilter(1.0, 0.5)
    out = _run(f, np.full((20, 3, 2), 7.25))
    np.testing.assert_allclose(out, 7.25)


def test_noise_at_rest_is_reduced() -> None:
    rng = np.random.default_rng(0)
    xs = 100 + rng.normal(0, 1.0, (300, 50))
    out = _run(OneEuroFilter(min_cutoff=0.5, beta=0.0), xs)
    assert out[30:].std(axis=0).mean() < 0.35 * xs[30:].std(axis=0).mean()


def test_beta_removes_lag_in_motion() -> None:
    t = np.arange(60)
    xs = (5.0 * t)[:, None].astype(np.float64)  # 150 units per second
    slow = _run(OneEuroFilter(min_cutoff=0.5, beta=0.0), xs)
    quick = _run(OneEuroFilter(min_cutoff=0.5, beta=1.0), xs)
    lag_slow = np.abs(slow[-1] - xs[-1]).item()
    lag_quick = np.abs(quick[-1] - xs[-1]).item()
    assert lag_slow > 20
    assert lag_quick < 0.1 * lag_slow


def test_speed_is_measured_in_scale_units() -> None:
    """The same motion of a face twice as large, with twice the scale, filters the same."""
    rng = np.random.default_rng(1)
    xs = np.cumsum(rng.normal(0, 1.0, (80, 4)), axis=0)
    a = _run(OneEuroFilter(0.5, 2.0), xs, scale=10.0)
    b = _run(OneEuroFilter(0.5, 2.0), 2 * xs, scale=20.0)
    np.testing.assert_allclose(b, 2 * a, rtol=1e-9, atol=1e-9)


def test_time_step_comes_from_the_timestamps() -> None:
    xs = np.array([[0.0], [10.0], [10.0]])
    fast = OneEuroFilter(1.0, 0.0)
    slow = OneEuroFilter(1.0, 0.0)
    a = [fast(x, i * 0.01) for i, x in enumerate(xs)]
    b = [slow(x, i * 1.0) for i, x in enumerate(xs)]
    assert a[1].item() < b[1].item()  # a longer interval lets the value move further


def test_reset_forgets_the_past_and_repeated_timestamps_do_not_freeze() -> None:
    f = OneEuroFilter(1.0, 0.0)
    f(np.array([0.0]), 0.0)
    f(np.array([0.0]), 1 / 30)
    moved = f(np.array([10.0]), 1 / 30)  # same timestamp: the last interval is assumed
    assert 0.0 < moved.item() < 10.0
    f.reset()
    np.testing.assert_allclose(f(np.array([10.0]), 5.0), [10.0])


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0.0)
    with pytest.raises(ValueError):
        OneEuroFilter(beta=-1.0)

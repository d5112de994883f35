"""The camera's grain on the swapped face (issue 24): on a still face with sensor noise the
swapped region changes from frame to frame about as much as the input does (it was 0.15-0.67
times as much), and the noise estimate it rests on measures known noise."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.swap.mesh.grain import GrainMatcher, cut_noise, noise_sigma


@pytest.mark.parametrize("sigma", [2.0, 6.0])
def test_the_noise_estimate_measures_known_noise(sigma: float) -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    smooth = 80 + 0.5 * xx + 0.3 * yy + 10 * np.sin(xx / 25)  # shading, no texture
    img = np.clip(smooth + rng.normal(0, sigma, (120, 160)), 0, 255).round().astype(np.uint8)
    est = noise_sigma(img)
    assert est is not None
    assert abs(est - sigma) < 0.2 * sigma + 0.3


def test_on_a_stream_the_grain_is_what_the_drawn_face_lacks_in_time() -> None:
    rng = np.random.default_rng(2)
    base = rng.integers(60, 200, (60, 80)).astype(np.float32)  # a still, textured face
    drawn = np.full((60, 80), 120, np.uint8)  # a smooth photo, still from frame to frame
    g = GrainMatcher()
    out = []
    for i in range(12):
        live = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).round().astype(np.uint8)
        out.append(g.sigma(7, i, live, drawn, (10, 10), None))
    assert out[0] is not None and out[0] > 10  # first frame: space only (the texture counts)
    assert all(v is not None and abs(v - 4) < 0.8 for v in out[2:])  # then the camera's noise
    noise = cut_noise((50, 60), 3, 4.0)
    assert noise.dtype == np.int16 and abs(float(noise.std()) - 4) < 0.3
    assert np.array_equal(noise, cut_noise((50, 60), 3, 4.0))  # the same frame, the same grain
    assert not np.array_equal(noise, cut_noise((50, 60), 4, 4.0))

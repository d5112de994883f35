"""The camera's grain on the swapped face (issue 24): on a still face with sensor noise the
swapped region changes from frame to frame about as much as the input does (it was 0.15-0.67
times as much), and the noise estimate it rests on measures known noise."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.config import MeshSettings
from realtime.swap.grain import GrainMatcher, noise_sigma
from realtime.swap.mesh import MeshSwapper
from realtime.swap.source import SourceFace
from tools.quality.cases import noisy_clip
from tools.quality.harness import run_sequence
from tools.quality.judge import Judge, load_photo
from tools.quality.measures import change_ratio, inner_face


@pytest.mark.parametrize("sigma", [2.0, 6.0])
def test_the_noise_estimate_measures_known_noise(sigma: float) -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    smooth = 80 + 0.5 * xx + 0.3 * yy + 10 * np.sin(xx / 25)  # shading, no texture
    img = np.clip(smooth[:, :, None] + rng.normal(0, sigma, (120, 160, 3)), 0, 255).round().astype(np.uint8)
    est = noise_sigma(img, np.full((120, 160), 255, np.uint8))
    assert est is not None
    assert np.all(np.abs(est - sigma) < 0.2 * sigma + 0.3)


def test_grain_is_the_missing_variance_on_a_still() -> None:
    g = GrainMatcher.grain(np.array([4.0] * 3), None, np.array([3.0] * 3), None, (200, 200), 1.0)
    assert g is not None and g.dtype == np.int16
    assert abs(float(g.std()) - np.sqrt(16 - 9)) < 0.2
    assert GrainMatcher.grain(np.array([1.0] * 3), None, np.array([2.0] * 3), None, (8, 8), 1.0) is None
    # On a stream: the camera's noise in time, less what the drawn face changes by itself.
    g = GrainMatcher.grain(
        np.array([9.0] * 3), np.array([5.0] * 3), None, np.array([3.0] * 3), (200, 200), 1.0
    )
    assert g is not None and abs(float(g.std()) - 4.0) < 0.2


@pytest.mark.parametrize("sigma", [2, 6])
def test_a_noisy_still_face_keeps_the_cameras_grain(
    analyzer: FaceAnalyzer, bundled_sources: dict[str, SourceFace], sigma: int
) -> None:
    target = load_photo("grace_hopper")
    face = Judge().face(target)
    assert face is not None
    frames = noisy_clip(target, 14, sigma, seed=sigma)
    out = run_sequence(
        frames, [FaceAnalyzer(analyzer.settings), MeshSwapper(bundled_sources["astronaut"], MeshSettings())]
    )
    ratio = change_ratio(frames[4:], out[4:], inner_face(face.points, target.shape[:2]))
    assert 0.7 <= ratio <= 1.3

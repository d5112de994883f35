"""The swap at 100 % through the public API only (issue 24), so that these fail on the base
commit as they should: an object photo over the mouth stays in front, and a noisy still face
keeps the camera's grain."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.mesh.photo import SourceFace
from realtime.swap.mesh.swapper import MeshSettings
from tools.quality.cases import PLACEMENTS, noisy_clip, occluders, place_occluder
from tools.quality.harness import swap_still, swap_stream
from tools.quality.judge import face_region
from tools.quality.measures import change_ratio, inner_face, occluder_change

pytest.importorskip("skimage")


def test_an_object_over_the_mouth_stays_in_front(
    analyzer: FaceAnalyzer, bundled_sources: dict[str, SourceFace], grace_hopper: tuple
) -> None:
    target, face = grace_hopper
    rocket = next(o for o in occluders() if o.name == "rocket")
    width, anchor = PLACEMENTS["rocket"]
    comp, mask = place_occluder(target, rocket, face.points, width, anchor)
    out = swap_still(analyzer, bundled_sources["astronaut"], comp, MeshSettings())
    assert np.any(out != comp)  # the face was swapped
    assert occluder_change(out, comp, mask, face_region(face.points, target.shape[:2])) <= 4.0  # 32.6 before


@pytest.mark.parametrize("sigma", [2, 6])
def test_a_noisy_still_face_keeps_the_cameras_grain(
    analyzer: FaceAnalyzer, bundled_sources: dict[str, SourceFace], grace_hopper: tuple, sigma: int
) -> None:
    target, face = grace_hopper
    frames = noisy_clip(target, 14, sigma, seed=sigma)
    out = swap_stream(analyzer, bundled_sources["astronaut"], frames, MeshSettings())
    ratio = change_ratio(frames[4:], out[4:], inner_face(face.points, target.shape[:2]))
    assert 0.7 <= ratio <= 1.3  # 0.32 (sigma 2) and 0.15 (sigma 6) before

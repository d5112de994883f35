"""Objects in front of the face stay in front of the swap (issue 24): a real object photo
(scikit-image's rocket, upright like a microphone) composited over the mouth and chin of a
bundled photo keeps its pixels; with the check off it is pasted over, as before."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.config import MeshSettings
from realtime.swap.mesh.occlusion import occluder_mask
from realtime.swap.mesh.photo import SourceFace
from tools.quality.cases import PLACEMENTS, occluders, place_occluder
from tools.quality.harness import swap_still
from tools.quality.judge import face_region
from tools.quality.measures import occluder_change

pytest.importorskip("skimage")


@pytest.fixture(scope="module")
def rocket_case(grace_hopper: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    target, face = grace_hopper
    occ = next(o for o in occluders() if o.name == "rocket")
    width, anchor = PLACEMENTS["rocket"]
    comp, mask = place_occluder(target, occ, face.points, width, anchor)
    return comp, mask, face_region(face.points, target.shape[:2])


def test_with_the_check_off_the_object_is_pasted_over(
    analyzer: FaceAnalyzer, bundled_sources: dict[str, SourceFace], rocket_case: tuple[np.ndarray, ...]
) -> None:
    comp, mask, face = rocket_case
    out = swap_still(analyzer, bundled_sources["astronaut"], comp, MeshSettings(occlusion=0.0))
    assert occluder_change(out, comp, mask, face) > 10.0


def test_skin_alone_is_not_an_occluder() -> None:
    rng = np.random.default_rng(0)
    ycc = np.empty((40, 40, 3), np.uint8)
    ycc[..., 0] = np.clip(rng.normal(150, 8, (40, 40)), 0, 255)
    ycc[..., 1] = np.clip(rng.normal(150, 2, (40, 40)), 0, 255)
    ycc[..., 2] = np.clip(rng.normal(110, 2, (40, 40)), 0, 255)
    skin = np.full((40, 40), 255, np.uint8)
    holes = np.zeros((40, 40), np.uint8)
    out = occluder_mask(ycc, skin, holes, 4.0)
    assert out is not None and not out.any()
    ycc[10:30, 15:22] = (60, 128, 128)  # a grey bar (a microphone) over the skin
    out = occluder_mask(ycc, skin, holes, 4.0)
    assert out is not None and out[12:28, 16:21].all() and not out[:, :12].any()


def test_settings_are_checked() -> None:
    from realtime.errors import ConfigError

    with pytest.raises(ConfigError):
        MeshSettings(occlusion=1.5)
    with pytest.raises(ConfigError):
        MeshSettings(occlusion_threshold=1.0)

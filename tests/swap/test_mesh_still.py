"""Swapping a still image: output written atomically, the input never overwritten."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.errors import InputError, NoFaceError
from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.mesh.swapper import MeshSettings
from realtime.swap.still import swap_image
from tools.quality.judge import PHOTOS, load_photo


def test_writes_the_swapped_image(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    out = tmp_path / "out.png"
    report = swap_image([PHOTOS["astronaut"]], PHOTOS["grace_hopper"], out, analyzer=analyzer)
    img = cv2.imread(str(out))
    target = load_photo("grace_hopper")
    assert img is not None and img.shape == target.shape
    assert np.abs(img.astype(int) - target).mean() > 1.0
    assert report["swapped"] == 1 and report["output"] == str(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary left


def test_settings_may_be_a_mapping_or_mesh_settings(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    a = tmp_path / "a.jpg"
    b = tmp_path / "b.jpg"
    swap_image(PHOTOS["grace_hopper"], PHOTOS["astronaut"], a, {"geometry": 0.0}, analyzer=analyzer)
    swap_image(PHOTOS["grace_hopper"], PHOTOS["astronaut"], b, MeshSettings(geometry=0.0), analyzer=analyzer)
    np.testing.assert_array_equal(cv2.imread(str(a)), cv2.imread(str(b)))


def test_refuses_to_overwrite_the_input(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    target = tmp_path / "photo.png"
    cv2.imwrite(str(target), load_photo("grace_hopper"))
    before = target.read_bytes()
    with pytest.raises(InputError, match="overwrite the input"):
        swap_image(PHOTOS["astronaut"], target, target, analyzer=analyzer)
    with pytest.raises(InputError, match="overwrite the input"):
        swap_image(PHOTOS["astronaut"], target, tmp_path / "." / "photo.png", analyzer=analyzer)
    assert target.read_bytes() == before


def test_bad_inputs(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((200, 200, 3), 100, np.uint8))
    with pytest.raises(NoFaceError, match="input image"):
        swap_image(PHOTOS["astronaut"], wall, tmp_path / "o.png", MeshSettings(), analyzer=analyzer)
    with pytest.raises(NoFaceError, match="source photo"):
        swap_image(wall, PHOTOS["astronaut"], tmp_path / "o.png", analyzer=analyzer)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(InputError):
        swap_image(PHOTOS["astronaut"], broken, tmp_path / "o.png", analyzer=analyzer)
    with pytest.raises(InputError, match="folder does not exist"):
        swap_image(PHOTOS["astronaut"], PHOTOS["grace_hopper"], tmp_path / "no" / "o.png", analyzer=analyzer)
    with pytest.raises(InputError, match="cannot write images"):
        swap_image(PHOTOS["astronaut"], PHOTOS["grace_hopper"], tmp_path / "o.xyz", analyzer=analyzer)
    assert not (tmp_path / "o.png").exists()

"""Preparing the source face: errors before any camera opens, several faces, several photos."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.errors import InputError, NoFaceError
from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.mesh.photo import prepare_source, read_image
from tools.quality.judge import PHOTOS, load_photo


def test_prepares_a_bundled_photo(analyzer: FaceAnalyzer) -> None:
    src = prepare_source(PHOTOS["grace_hopper"], analyzer=analyzer)
    assert src.mesh.shape == (468, 3) and src.texture.ndim == 3
    assert src.path == PHOTOS["grace_hopper"]
    h, w = src.texture.shape[:2]
    assert (src.mesh[:, 0] >= 0).all() and (src.mesh[:, 0] < w).all()
    assert (src.mesh[:, 1] >= 0).all() and (src.mesh[:, 1] < h).all()
    assert len(src.triangles) > 800
    assert len(src.levels) >= 2  # a 190 px face gets at least one smaller level
    with pytest.raises(ValueError):
        src.texture[0, 0, 0] = 1  # immutable: a swapper may share it between threads


def test_no_face_is_a_one_line_error(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 120, np.uint8))
    with pytest.raises(NoFaceError) as err:
        prepare_source(blank, analyzer=analyzer)
    assert "wall.png" in str(err.value) and "\n" not in str(err.value)


def test_unreadable_and_missing_photos(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(InputError, match="cannot decode"):
        prepare_source(bad, analyzer=analyzer)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError):
        read_image(empty)
    with pytest.raises(InputError, match="not found"):
        prepare_source(tmp_path / "nope.jpg", analyzer=analyzer)
    with pytest.raises(InputError):
        prepare_source([], analyzer=analyzer)


def _two_faces(tmp_path: Path) -> Path:
    """Grace Hopper's photo, and beside it a copy at 60 %: two faces of different sizes."""
    img = load_photo("grace_hopper")
    small = cv2.resize(img, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    canvas = np.full((img.shape[0], img.shape[1] + small.shape[1], 3), 110, np.uint8)
    canvas[:, : img.shape[1]] = img
    canvas[: small.shape[0], img.shape[1] :] = small
    path = tmp_path / "two.png"
    cv2.imwrite(str(path), canvas)
    return path


def test_several_faces_take_the_largest_and_warn(
    tmp_path: Path, analyzer: FaceAnalyzer, caplog: pytest.LogCaptureFixture
) -> None:
    path = _two_faces(tmp_path)
    with caplog.at_level(logging.WARNING, logger="realtime.swap.mesh.photo"):
        big = prepare_source(path, analyzer=analyzer)
    assert any("2 faces" in r.getMessage() for r in caplog.records)
    small = prepare_source(path, face_index=1, analyzer=analyzer)
    assert small.size < 0.75 * big.size
    with pytest.raises(InputError, match="face_index 2 is out of range"):
        prepare_source(path, face_index=2, analyzer=analyzer)


def test_of_several_photos_the_best_is_kept(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    img = load_photo("grace_hopper")
    tiny = tmp_path / "tiny.png"  # the same person, but a quarter of the resolution
    cv2.imwrite(str(tiny), cv2.resize(img, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA))
    faceless = tmp_path / "wall.png"
    cv2.imwrite(str(faceless), np.full((200, 200, 3), 90, np.uint8))
    src = prepare_source([tiny, faceless, PHOTOS["grace_hopper"]], analyzer=analyzer)
    assert src.path == PHOTOS["grace_hopper"]
    alone = prepare_source(tiny, analyzer=analyzer)
    assert alone.score < src.score

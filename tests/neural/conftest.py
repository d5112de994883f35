"""Fixtures of the neural tests: synthetic models on disk, and the bundled photo's keypoints."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.catalog.manifest import ModelSpec
from tests.neural.synthetic_models import write_synthetic_models

PHOTO = Path(__file__).resolve().parents[2] / "realtime" / "assets" / "faces" / "astronaut.jpg"


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ModelSpec]]:
    """(models dir, specs whose sha256/size match the synthetic files)."""
    folder = tmp_path_factory.mktemp("models")
    return folder, write_synthetic_models(folder)


def _predictor_path() -> Path:
    # face_recognition_models' own helper needs pkg_resources; find its data directly.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("face_recognition_models is not installed")
    return (
        Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    )


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    img = cv2.imread(str(PHOTO))
    assert img is not None, PHOTO
    return img


@pytest.fixture(scope="session")
def photo_kps(photo: np.ndarray) -> np.ndarray:
    """dlib-derived 5 points of the astronaut's face: eye centres (mean of each eye's 6
    points), nose tip (30), mouth corners (48, 54) - image-left eye first."""
    dlib = pytest.importorskip("dlib")
    rgb = np.ascontiguousarray(photo[:, :, ::-1])
    rects = dlib.get_frontal_face_detector()(rgb, 1)
    rect = min(rects, key=lambda r: r.top())  # the face; a lower hit is the suit's patch
    shape = dlib.shape_predictor(str(_predictor_path()))(rgb, rect)
    p = np.array([[q.x, q.y] for q in shape.parts()], np.float64)
    kps = np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
    # Hand-measured on the photo (eye centres, nose tip, mouth corners), to +-5 px.
    hand = np.array([[203, 102], [246, 104], [225, 127], [200, 139], [246, 141]], np.float64)
    assert np.abs(kps - hand).max() < 5, kps
    return kps

"""Shared fixtures for the face-analysis tests: the bundled photos, a reference landmark
model (dlib), and helpers that build synthetic frames and sequences."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

import realtime
from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer

FACES_DIR = Path(realtime.__file__).resolve().parent / "assets" / "faces"
PHOTOS = ("astronaut", "grace_hopper")
WALL = (96, 104, 110)  # a grey-beige background, BGR


def load_photo(name: str) -> np.ndarray:
    img = cv2.imread(str(FACES_DIR / f"{name}.jpg"))
    assert img is not None, f"missing bundled photo {name}"
    return img


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {name: load_photo(name) for name in PHOTOS}


@pytest.fixture(scope="session")
def still_analyzer() -> FaceAnalyzer:
    """One analyzer for still-image tests (``analyze_image`` keeps no tracking state)."""
    return FaceAnalyzer(AnalysisSettings())


def dlib_68_model() -> Path:
    """dlib's 68-point predictor file from face_recognition_models.

    ``face_recognition_models.pose_predictor_model_location()`` needs ``pkg_resources``,
    which new setuptools no longer has, so the file is found from the package's location.
    """
    try:
        import face_recognition_models

        return Path(face_recognition_models.pose_predictor_model_location())
    except ImportError:
        spec = importlib.util.find_spec("face_recognition_models")
        assert spec is not None and spec.submodule_search_locations, "face_recognition_models missing"
        folder = Path(next(iter(spec.submodule_search_locations)))
        return folder / "models" / "shape_predictor_68_face_landmarks.dat"


class DlibReference:
    """dlib's HOG frontal face detector + 68-point shape predictor: an independent model."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(dlib_68_model()))

    def points(self, image_bgr: np.ndarray) -> np.ndarray:
        """(68, 2) for the single largest face dlib finds; fails the test if none."""
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        rects = self.detector(rgb, 1)
        assert len(rects) >= 1, "dlib found no face in a reference photo"
        rect = max(rects, key=lambda r: r.width() * r.height())
        shape = self.predictor(rgb, rect)
        return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], np.float64)


@pytest.fixture(scope="session")
def dlib_ref() -> DlibReference:
    return DlibReference()


def transform_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    pts = np.asarray(pts, np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def warp_photo(
    img: np.ndarray,
    *,
    angle: float = 0.0,
    scale: float = 1.0,
    shift: tuple[int, int] = (0, 0),
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The photo rotated (degrees, counter-clockwise on screen), scaled and shifted onto a
    canvas of ``size`` (w, h; default: big enough for it all) on a plain wall. Returns the
    image and the 2x3 matrix mapping original pixels to it."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    corners = transform_points(m, np.array([[0, 0], [w, 0], [w, h], [0, h]]))
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    m[:, 2] += -lo + np.asarray(shift, np.float64)
    if size is None:
        size = (int(np.ceil(hi[0] - lo[0])) + shift[0], int(np.ceil(hi[1] - lo[1])) + shift[1])
    out = cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderValue=WALL)
    return out, m


def place(canvas_wh: tuple[int, int], img: np.ndarray, x: int, y: int) -> np.ndarray:
    """``img`` pasted at (x, y) on a plain wall of size (w, h)."""
    w, h = canvas_wh
    out = np.empty((h, w, 3), np.uint8)
    out[:] = WALL
    ih, iw = img.shape[:2]
    out[y : y + ih, x : x + iw] = img
    return out


class SensorNoise:
    """Gaussian sensor noise of ``sigma`` grey levels, as a webcam adds to every frame.

    Drawing 2.7 M normal samples per 720p frame is slow on a 2-core machine, so a few noise
    fields are drawn once and each frame takes a randomly chosen, randomly offset window of
    one of them: every frame still gets a different, Gaussian, pixel-independent noise.
    """

    def __init__(self, seed: int, sigma: float = 3.0, fields: int = 3, margin: int = 64) -> None:
        self.rng = np.random.default_rng(seed)
        self.sigma = sigma
        self.fields = fields
        self.margin = margin
        self._bank: dict[tuple[int, ...], list[np.ndarray]] = {}

    def __call__(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        key = img.shape
        if key not in self._bank:
            shape = (h + self.margin, w + self.margin, img.shape[2])
            self._bank[key] = [
                np.rint(self.rng.standard_normal(shape, dtype=np.float32) * self.sigma).astype(np.int16)
                for _ in range(self.fields)
            ]
        field = self._bank[key][int(self.rng.integers(self.fields))]
        dy, dx = (int(v) for v in self.rng.integers(0, self.margin + 1, 2))
        noisy = img.astype(np.int16) + field[dy : dy + h, dx : dx + w]
        return np.clip(noisy, 0, 255).astype(np.uint8)


def face_crop(img: np.ndarray, cx: int, cy: int, half: int, out: int) -> np.ndarray:
    """A square around (cx, cy), resized to ``out`` pixels: a head-and-shoulders shot."""
    crop = img[max(0, cy - half) : cy + half, max(0, cx - half) : cx + half]
    return cv2.resize(crop, (out, out), interpolation=cv2.INTER_AREA)

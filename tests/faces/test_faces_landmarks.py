"""FaceMesh: crop geometry, derived points, and accuracy against dlib's 68-point model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.faces.landmarks import (
    EYE_LEFT_IMG,
    EYE_RIGHT_IMG,
    MESH_TO_68,
    NUM_LANDMARKS,
    Roi,
    five_points,
    points68,
    roi_from_mesh,
)

from .conftest import DlibReference, transform_points, warp_photo


def test_roi_crop_matrix_and_to_frame_are_inverse() -> None:
    rng = np.random.default_rng(0)
    roi = Roi(cx=321.5, cy=200.25, size=180.0, angle=math.radians(27))
    m = roi.crop_matrix(192)
    crop_pts = rng.uniform(0, 192, (50, 2))
    frame_pts = roi.to_frame(crop_pts, 192)
    back = transform_points(m, frame_pts)
    np.testing.assert_allclose(back, crop_pts, atol=1e-3)
    # the crop centre is the ROI centre; the crop's +x axis runs along the ROI angle
    np.testing.assert_allclose(roi.to_frame(np.array([[96.0, 96.0]]), 192)[0], [321.5, 200.25], atol=1e-4)
    step = roi.to_frame(np.array([[96.0, 96.0], [192.0, 96.0]]), 192)
    d = step[1] - step[0]
    assert math.atan2(d[1], d[0]) == pytest.approx(roi.angle, abs=1e-5)
    assert np.hypot(*d) == pytest.approx(90.0, abs=1e-3)


def test_z_scales_like_x() -> None:
    roi = Roi(100.0, 100.0, 384.0, 0.0)
    out = roi.to_frame(np.array([[96.0, 96.0, 10.0]]), 192)
    assert out[0, 2] == pytest.approx(20.0)


def test_roi_from_mesh_is_levelled_and_covers_the_face() -> None:
    rng = np.random.default_rng(3)
    pts = rng.uniform(-50, 50, (NUM_LANDMARKS, 3))
    pts[33, :2], pts[263, :2] = [-40, 0], [40, 0]
    angle = math.radians(-20)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    mesh = pts.copy()
    mesh[:, :2] = pts[:, :2] @ rot.T + [400, 300]
    roi = roi_from_mesh(mesh, scale=1.5)
    assert roi.angle == pytest.approx(angle, abs=1e-6)
    inside = transform_points(roi.crop_matrix(192), mesh[:, :2])
    assert inside.min() > 0 and inside.max() < 192


def test_five_points_follow_the_mesh_indices() -> None:
    mesh = np.zeros((NUM_LANDMARKS, 3), np.float32)
    mesh[list(EYE_LEFT_IMG), 0] = 10
    mesh[list(EYE_RIGHT_IMG), 0] = 30
    mesh[1] = [20, 25, 0]
    mesh[61] = [12, 40, 0]
    mesh[291] = [28, 40, 0]
    kps = five_points(mesh)
    np.testing.assert_allclose(kps, [[10, 0], [30, 0], [20, 25], [12, 40], [28, 40]])


def test_points68_is_a_subset_in_dlib_order() -> None:
    assert MESH_TO_68.shape == (68,)
    assert len(set(MESH_TO_68.tolist())) == 68
    assert MESH_TO_68.max() < NUM_LANDMARKS
    mesh = np.arange(NUM_LANDMARKS * 3, dtype=np.float32).reshape(NUM_LANDMARKS, 3)
    np.testing.assert_array_equal(points68(mesh)[:, 0], mesh[MESH_TO_68, 0])
    assert list(MESH_TO_68[36:48]) == [*EYE_LEFT_IMG, *EYE_RIGHT_IMG]


# (name, transform) variants of each photo: the detector must find exactly one face and the
# derived points must agree with dlib's on the original, mapped through the same transform.
VARIANTS = [
    ("original", {}),
    ("rot+30", {"angle": 30.0}),
    ("rot-30", {"angle": -30.0}),
    ("scale0.5", {"scale": 0.5}),
    ("scale1.5", {"scale": 1.5}),
    ("shifted", {"shift": (410, 95), "size": (1280, 720)}),
    ("rot+15-scale0.7-shifted", {"angle": 15.0, "scale": 0.7, "shift": (200, 40), "size": (960, 720)}),
]
MAX_ERROR_IOD = 0.10


def _reference_points(p68: np.ndarray) -> np.ndarray:
    """dlib's eye centres and mouth corners in KPS_NAMES order (without the nose)."""
    return np.stack([p68[36:42].mean(axis=0), p68[42:48].mean(axis=0), p68[48], p68[54]])


@pytest.fixture(scope="module")
def dlib_points(photos, dlib_ref: DlibReference) -> dict[str, np.ndarray]:
    return {name: dlib_ref.points(img) for name, img in photos.items()}


@pytest.mark.parametrize("variant", VARIANTS, ids=[v[0] for v in VARIANTS])
@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_landmarks_agree_with_dlib(
    still_analyzer: FaceAnalyzer, photos, dlib_points, name: str, variant: tuple[str, dict]
) -> None:
    img, m = warp_photo(photos[name], **variant[1])
    faces = still_analyzer.analyze_image(img)
    assert len(faces) == 1
    face = faces[0]
    assert face.mesh is not None and face.mesh.shape == (NUM_LANDMARKS, 3)
    ref68 = transform_points(m, dlib_points[name])
    ref = _reference_points(ref68)
    iod = float(np.linalg.norm(ref[1] - ref[0]))
    mine = face.kps[[0, 1, 3, 4]]
    err = np.linalg.norm(mine - ref, axis=1) / iod
    assert err.max() <= MAX_ERROR_IOD, f"eye/mouth error / inter-ocular: {err.round(3)}"
    # the 68-point subset as a whole sits on dlib's points (the jaw differs most by design)
    err68 = np.linalg.norm(points68(face.mesh) - ref68, axis=1) / iod
    assert err68.mean() <= 0.12, f"68-point mean error / inter-ocular: {err68.mean():.3f}"
    # the detector keypoints led to the right face: its box holds all 68 reference points
    x1, y1, x2, y2 = face.box
    pad = 0.25 * iod
    assert np.all((ref68[:, 0] > x1 - pad) & (ref68[:, 0] < x2 + pad))
    assert np.all((ref68[:, 1] > y1 - pad) & (ref68[:, 1] < y2 + pad))


def test_presence_is_low_on_a_crop_without_a_face(still_analyzer: FaceAnalyzer) -> None:
    wall = np.full((400, 400, 3), (96, 104, 110), np.uint8)
    _, presence = still_analyzer.mesh.run(wall, Roi(200, 200, 300, 0.0))
    assert presence < 0.1


def test_presence_is_high_on_a_face(still_analyzer: FaceAnalyzer, photos) -> None:
    img = photos["grace_hopper"]
    det = still_analyzer.detector.detect(img)[0]
    mesh, presence = still_analyzer.mesh.run(img, still_analyzer.mesh.roi_from_detection(det))
    assert presence > 0.9
    x1, y1, x2, y2 = det.box
    centre = mesh[:, :2].mean(axis=0)
    assert x1 < centre[0] < x2 and y1 < centre[1] < y2

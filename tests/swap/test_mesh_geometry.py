"""The geometry blend: identity features move toward the source, expression stays the target's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtime.frame import Face
from realtime.swap.mesh.geometry import blend_geometry, similarity_3d
from realtime.swap.mesh.masks import EYE_LEFT, EYE_RIGHT, FACE_OVAL, LIPS_INNER, LIPS_OUTER
from realtime.swap.mesh.photo import SourceFace

PhotoFaces = dict[str, tuple[np.ndarray, Face]]


def _opening(mesh: np.ndarray) -> float:
    """Inner-lip gap over mouth width, on the mesh itself."""
    gap = np.linalg.norm(mesh[13, :2] - mesh[14, :2])
    return float(gap / np.linalg.norm(mesh[78, :2] - mesh[308, :2]))


def _eye_opening(mesh: np.ndarray, upper: int, lower: int, a: int, b: int) -> float:
    gap = np.linalg.norm(mesh[upper, :2] - mesh[lower, :2])
    return float(gap / np.linalg.norm(mesh[a, :2] - mesh[b, :2]))


def test_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(50, 3))
    ang = math.radians(30)
    r = np.array([[math.cos(ang), -math.sin(ang), 0], [math.sin(ang), math.cos(ang), 0], [0, 0, 1]])
    b = 1.7 * a @ r.T + (3.0, -2.0, 5.0)
    s, rot, t = similarity_3d(a, b)
    assert s == pytest.approx(1.7)
    np.testing.assert_allclose(rot, r, atol=1e-9)
    np.testing.assert_allclose(t, (3.0, -2.0, 5.0), atol=1e-9)


def test_zero_keeps_the_target_shape(bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces) -> None:
    src = bundled_sources["astronaut"]
    tgt = photo_faces["grace_hopper"][1].mesh
    assert tgt is not None
    out = blend_geometry(src.mesh, tgt, src.weights, 0.0)
    np.testing.assert_array_equal(out.mesh, tgt)


@pytest.mark.parametrize("amount", [0.25, 0.5, 1.0])
def test_blend_moves_identity_and_keeps_expression(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces, amount: float
) -> None:
    src = bundled_sources["astronaut"]  # smiling, mouth open
    tgt = photo_faces["grace_hopper"][1].mesh  # mouth closed
    assert tgt is not None
    out = blend_geometry(src.mesh, tgt, src.weights, amount)
    m = out.mesh
    assert np.isfinite(m).all()
    # Expression: mouth and eye openings are exactly the target's.
    assert _opening(m) == pytest.approx(_opening(tgt), rel=1e-4)
    assert _eye_opening(m, 159, 145, 33, 133) == pytest.approx(_eye_opening(tgt, 159, 145, 33, 133), rel=1e-4)
    # The outline stays the target's, so the face still fits the head.
    np.testing.assert_allclose(m[FACE_OVAL, :2], tgt[FACE_OVAL, :2], atol=1e-3)

    # Identity: the eye spacing moves toward the source's (aligned into the target's pose).
    def spacing(x: np.ndarray) -> float:
        return float(np.linalg.norm(x[EYE_LEFT, :2].mean(0) - x[EYE_RIGHT, :2].mean(0)))

    full = blend_geometry(src.mesh, tgt, src.weights, 1.0).mesh
    expect = spacing(tgt) + amount * (spacing(full) - spacing(tgt))
    assert spacing(m) == pytest.approx(expect, rel=1e-3)
    assert abs(spacing(full) - spacing(tgt)) > 0.5  # the two faces do differ
    # The kept mouth interior is drawn where the blended lips are.
    moved = tgt[LIPS_INNER, :2] @ out.mouth[:, :2].T + out.mouth[:, 2]
    np.testing.assert_allclose(moved, m[LIPS_INNER, :2], atol=1e-3)
    assert np.isfinite(m[LIPS_OUTER]).all()


def test_blend_of_a_face_with_itself_changes_nothing(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    src = bundled_sources["grace_hopper"]
    tgt = photo_faces["grace_hopper"][1].mesh
    assert tgt is not None
    out = blend_geometry(src.mesh, tgt, src.weights, 1.0)
    np.testing.assert_allclose(out.mesh[:, :2], tgt[:, :2], atol=0.05)

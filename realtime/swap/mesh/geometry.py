"""How much of the source's face shape the swap keeps: the ``geometry`` blend.

At 0 the swapped face takes the target's shape exactly; at 1 it takes the source's
identity-bearing geometry: eye spacing and size, brow and nose shape, the mouth's position
and width. What carries expression or the head outline stays the target's whatever the
setting, so speech, blinks and the jaw line stay real and the face still fits the head:

- the eyes and the mouth move as rigid units (translation + uniform scale toward the
  source's), which keeps each one's opening ratio exactly the target's;
- the face outline and the chin (which moves with the open mouth) keep the target's
  points, with a smooth fall-off into the blended interior so no triangle folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.swap.mesh.masks import (
    EYE_LEFT,
    EYE_LEFT_CORNERS,
    EYE_RIGHT,
    EYE_RIGHT_CORNERS,
    FACE_OVAL,
    LIPS_OUTER,
    MOUTH_CORNERS,
)

NOSE_TIP = 1
# Fall-off widths in inter-ocular units of the frontal layout.
REGION_RAMP = 0.12
OUTLINE_RAMP = 0.35
CHIN_RAMP = 0.35


@dataclass(frozen=True)
class ShapeWeights:
    """Per-point weights computed once per source from its frontal layout (468,) each."""

    rigid: np.ndarray  # indices of the upper-face points used to align source to target
    free: np.ndarray  # 0..1: how far a point may take the source's own position
    mouth: np.ndarray  # 0..1: membership of the mouth (moves with it as a unit)
    eye_left: np.ndarray
    eye_right: np.ndarray

    @property
    def members(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Memberships in the order of ``UNIT_AVERAGE``: mouth, left eye, right eye."""
        return self.mouth, self.eye_left, self.eye_right


def _membership(layout: np.ndarray, loop: np.ndarray, ramp: float) -> np.ndarray:
    """1 inside the closed contour ``loop``, falling to 0 over ``ramp`` outside it."""
    poly = layout[loop].astype(np.float32).reshape(-1, 1, 2)
    d = np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), True) for x, y in layout], np.float32)
    return np.clip(1.0 + d / ramp, 0.0, 1.0)


def shape_weights(layout: np.ndarray) -> ShapeWeights:
    """The weights of ``blend_geometry`` for a source with this frontal layout (inter-ocular
    units, y down)."""
    lay = np.asarray(layout, np.float32)
    oval = lay[FACE_OVAL].reshape(-1, 1, 2)
    inside = np.array([cv2.pointPolygonTest(oval, (float(x), float(y)), True) for x, y in lay])
    outline = np.clip(inside / OUTLINE_RAMP, 0.0, 1.0)
    mouth_y = float(lay[list(MOUTH_CORNERS), 1].mean())
    chin = 1.0 - np.clip((lay[:, 1] - mouth_y) / CHIN_RAMP, 0.0, 1.0)
    rigid = np.flatnonzero(lay[:, 1] <= lay[NOSE_TIP, 1])
    return ShapeWeights(
        rigid=rigid.astype(np.intp),
        free=(outline * chin).astype(np.float32),
        mouth=_membership(lay, LIPS_OUTER, REGION_RAMP),
        eye_left=_membership(lay, EYE_LEFT, REGION_RAMP),
        eye_right=_membership(lay, EYE_RIGHT, REGION_RAMP),
    )


def similarity_3d(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale, rotation, translation with ``dst ≈ s * R @ src + t`` (Umeyama)."""
    a = np.asarray(src, np.float64)
    b = np.asarray(dst, np.float64)
    ma, mb = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - ma, b - mb
    cov = b0.T @ a0 / len(a)
    u, sv, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    var = (a0**2).sum() / len(a)
    s = float((sv * d).sum() / max(var, 1e-12))
    return s, r, mb - s * r @ ma


def _unit_average() -> np.ndarray:
    """(3, 468): row j averages the outline of unit j (mouth, left eye, right eye)."""
    avg = np.zeros((3, 468))
    for j, loop in enumerate((LIPS_OUTER, EYE_LEFT, EYE_RIGHT)):
        avg[j, loop] = 1.0 / len(loop)
    return avg


# Constant tables of the three rigid units: their outline averages and their two corners.
UNIT_AVERAGE = _unit_average()
UNIT_CORNERS = np.array([MOUTH_CORNERS, EYE_LEFT_CORNERS, EYE_RIGHT_CORNERS], np.intp)


def _unit_transforms(aligned: np.ndarray, target: np.ndarray, amount: float) -> np.ndarray:
    """(3, 2, 3) affines (target pixels -> blended pixels) moving the mouth and each eye as a
    rigid unit ``amount`` of the way to the source's position and width."""
    ct = UNIT_AVERAGE @ target[:, :2]
    ca = UNIT_AVERAGE @ aligned[:, :2]
    wt = np.linalg.norm(target[UNIT_CORNERS[:, 0], :2] - target[UNIT_CORNERS[:, 1], :2], axis=1)
    wa = np.linalg.norm(aligned[UNIT_CORNERS[:, 0], :2] - aligned[UNIT_CORNERS[:, 1], :2], axis=1)
    k = 1.0 + amount * (wa / np.maximum(wt, 1e-6) - 1.0)
    t = ct + amount * (ca - ct) - k[:, None] * ct
    m = np.zeros((3, 2, 3))
    m[:, 0, 0] = m[:, 1, 1] = k
    m[:, :, 2] = t
    return m


@dataclass(frozen=True)
class BlendedShape:
    """The mesh the source texture is drawn onto, and where the target's mouth and eyes go."""

    mesh: np.ndarray  # (468, 3) float32 frame pixels (z: the target's)
    mouth: np.ndarray  # 2x3 affine: target frame pixels -> blended mesh pixels
    eye_left: np.ndarray
    eye_right: np.ndarray


def blend_geometry(
    source_mesh: np.ndarray, target_mesh: np.ndarray, weights: ShapeWeights, amount: float
) -> BlendedShape:
    """The target mesh moved ``amount`` (0..1) of the way toward the source's own shape."""
    tgt = np.asarray(target_mesh, np.float64)
    if amount <= 0.0:
        ident = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        return BlendedShape(np.asarray(target_mesh, np.float32), ident, ident, ident)
    src = np.asarray(source_mesh, np.float64)
    s, r, t = similarity_3d(src[weights.rigid], tgt[weights.rigid])
    aligned = (s * (r @ src.T)).T + t
    xy = tgt[:, :2]
    out = xy + (amount * weights.free)[:, None] * (aligned[:, :2] - xy)
    units = _unit_transforms(aligned, tgt, amount)
    for member, m in zip(weights.members, units):
        moved = xy * m[0, 0] + m[:, 2]
        out += member[:, None] * (moved - out)
    mesh = np.concatenate([out, tgt[:, 2:3]], axis=1).astype(np.float32)
    return BlendedShape(mesh, units[0], units[1], units[2])

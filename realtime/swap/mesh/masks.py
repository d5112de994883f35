"""Face regions on the 468-point FaceMesh and the masks drawn from them.

Index loops are positions in MediaPipe's canonical face mesh, each an ordered closed contour
so that ``cv2.fillPoly`` draws the region directly. "Left" follows ``realtime.frame.KPS_NAMES``
(the image's left on an upright, unmirrored face).
"""

from __future__ import annotations

import cv2
import numpy as np

FACE_OVAL = np.array(
    [
        *(10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400),
        *(377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109),
    ],
    dtype=np.intp,
)
LIPS_INNER = np.array(
    [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95],
    dtype=np.intp,
)
LIPS_OUTER = np.array(
    [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146],
    dtype=np.intp,
)
EYE_LEFT = np.array(
    [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7], dtype=np.intp
)
EYE_RIGHT = np.array(
    [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249], dtype=np.intp
)
BROW_LEFT = np.array([70, 63, 105, 66, 107, 55, 65, 52, 53, 46], dtype=np.intp)
BROW_RIGHT = np.array([300, 293, 334, 296, 336, 285, 295, 282, 283, 276], dtype=np.intp)

# Eye corners (outer, inner) and mouth corners: the ends that define each feature's width.
EYE_LEFT_CORNERS = (33, 133)
EYE_RIGHT_CORNERS = (263, 362)
MOUTH_CORNERS = (61, 291)
FOREHEAD = 10
CHIN = 152


def fill(
    shape: tuple[int, int],
    pts: np.ndarray,
    origin: tuple[int, int] = (0, 0),
    scale: float = 1.0,
    grow: float = 0.0,
) -> np.ndarray:
    """A uint8 0/255 mask of ``shape`` with the polygon ``pts`` (N, 2) filled.

    ``origin`` is the frame position of the mask's top-left pixel and ``scale`` its resolution
    relative to the frame's; coordinates keep 4 bits of sub-pixel precision so that small
    regions (a closed mouth) do not snap to whole pixels. ``grow`` (pixels) widens the
    polygon by drawing its outline that thick, so a closed mouth still covers its lip seam.
    """
    mask = np.zeros(shape, np.uint8)
    poly = _fixed(pts, origin, scale)
    cv2.fillPoly(mask, [poly], 255, cv2.LINE_8, shift=4)
    if grow * scale >= 0.5:
        thickness = max(1, round(2 * grow * scale))
        cv2.polylines(mask, [poly], True, 255, thickness, cv2.LINE_8, shift=4)
    return mask


def face_outline(mesh: np.ndarray, forehead: float = 1.0) -> np.ndarray:
    """The face oval (36, 2), its part above the brows lowered to ``forehead`` (0..1) of its
    height: the top of the mesh often holds hair or a hat brim rather than skin."""
    oval = np.asarray(mesh, np.float64)[FACE_OVAL, :2].copy()
    if forehead >= 1.0:
        return oval
    m = np.asarray(mesh, np.float64)[:, :2]
    brow = m[np.concatenate([BROW_LEFT, BROW_RIGHT])].mean(axis=0)
    up = brow - m[CHIN]
    up /= max(float(np.linalg.norm(up)), 1e-9)
    height = (oval - brow) @ up
    above = height > 0
    oval[above] -= (1.0 - forehead) * height[above, None] * up
    return oval


def _fixed(pts: np.ndarray, origin: tuple[int, int], scale: float) -> np.ndarray:
    p = (np.asarray(pts, np.float64)[:, :2] - np.asarray(origin, np.float64)) * scale
    return np.round(p * 16).astype(np.int32)


def skin_mask(
    mesh: np.ndarray,
    shape: tuple[int, int],
    origin: tuple[int, int],
    grow: float,
    scale: float = 1.0,
) -> np.ndarray:
    """The face oval without eyes, brows and lips (uint8 0/255): where skin colour lives.

    ``grow`` (frame pixels) widens the holes, so eyelashes and lip edges stay out of the
    statistics; ``origin`` and ``scale`` place the mask as in ``fill``.
    """
    m = fill(shape, mesh[FACE_OVAL], origin, scale)
    holes = np.zeros(shape, np.uint8)
    for region in (EYE_LEFT, EYE_RIGHT, BROW_LEFT, BROW_RIGHT, LIPS_OUTER):
        hull = cv2.convexHull(_fixed(mesh[region], origin, scale))
        cv2.fillConvexPoly(holes, hull, 255, cv2.LINE_8, shift=4)
    r = round(grow * scale)
    if r > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        cv2.dilate(holes, kernel, dst=holes)
    return cv2.bitwise_and(m, cv2.bitwise_not(holes))

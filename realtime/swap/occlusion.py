"""Keeping what is in front of the face in front of the swap, on a CPU, with no model.

A hand, a cup, a microphone, hair or the target's glasses over the face are live pixels
that do not look like the face's skin. The skin's colour is measured on the live frame
itself, robustly (median and median absolute deviation of chroma over the target's skin
region, so an object covering less than half of it does not move the model), and every
pixel of the face whose chroma lies far from it, or whose luma is far brighter or darker
than any skin of this face, is kept live. The target's own eyes, brows and lips are not
skin either, so they are left out of the check (the swap replaces them on purpose).

It runs at half resolution on the face's box (about 0.5 ms for a 300-pixel face), every
frame, so the mask follows a moving hand with no lag and needs no tracking of its own.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime.swap.masks import BROW_LEFT, BROW_RIGHT, EYE_LEFT, EYE_RIGHT, LIPS_OUTER, _fixed, skin_mask

# Below this many skin pixels (at half resolution) the model is not trusted: nothing is kept.
MIN_SKIN = 64
# Floors of the spreads (8-bit levels), so a flat, over-exposed face does not flag its noise.
MIN_CHROMA_SPREAD = 2.0
MIN_LUMA_SPREAD = 6.0
# Luma is checked much more loosely than chroma: shading moves it across the face.
LUMA_FACTOR = 2.5


def feature_holes(
    meshes: tuple[np.ndarray, ...],
    shape: tuple[int, int],
    origin: tuple[int, int],
    grow: float,
    scale: float,
    eye_band: float = 0.0,
) -> np.ndarray:
    """uint8 0/255 where the check is off: the lips of each mesh widened by ``grow`` frame
    pixels, and the band of eyes and brows (one hull over both) widened by ``eye_band``.

    The band is one piece so that glasses are either kept whole or swapped whole: their rims
    run across brows and cheeks, and a check that kept what lies outside the brows would
    leave fragments of frames on the swapped face.
    """
    holes = np.zeros(shape, np.uint8)
    lips = np.zeros(shape, np.uint8)
    eyes = np.concatenate([EYE_LEFT, EYE_RIGHT, BROW_LEFT, BROW_RIGHT])
    for mesh in meshes:
        cv2.fillConvexPoly(
            lips, cv2.convexHull(_fixed(mesh[LIPS_OUTER], origin, scale)), 255, cv2.LINE_8, shift=4
        )
        cv2.fillConvexPoly(holes, cv2.convexHull(_fixed(mesh[eyes], origin, scale)), 255, cv2.LINE_8, shift=4)
    for m, g in ((lips, grow), (holes, max(grow, eye_band))):
        r = round(g * scale)
        if r > 0:
            cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)), dst=m)
    return cv2.bitwise_or(holes, lips)


def _robust(values: np.ndarray, floor: float) -> tuple[float, float]:
    med = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - med)))
    return med, max(spread, floor)


def occluder_mask(
    ycc_half: np.ndarray, skin_half: np.ndarray, holes_half: np.ndarray, threshold: float
) -> np.ndarray | None:
    """uint8 0/255 at half resolution: pixels that are not this face's skin (outside the
    feature ``holes``); None when too little skin is visible to build the model.

    ``ycc_half`` is the live patch in YCrCb, ``skin_half`` the target's skin region (uint8),
    ``threshold`` the distance, in robust standard deviations, beyond which a pixel is not skin.
    """
    skin = skin_half > 0
    if int(skin.sum()) < MIN_SKIN:
        return None
    px = ycc_half[skin].astype(np.float32)
    my, sy = _robust(px[:, 0], MIN_LUMA_SPREAD)
    mr, sr = _robust(px[:, 1], MIN_CHROMA_SPREAD)
    mb, sb = _robust(px[:, 2], MIN_CHROMA_SPREAD)
    f = ycc_half.astype(np.float32)
    dr = (f[:, :, 1] - mr) * (1.0 / sr)
    db = (f[:, :, 2] - mb) * (1.0 / sb)
    dy = (f[:, :, 0] - my) * (1.0 / (LUMA_FACTOR * sy))
    far = (dr * dr + db * db > threshold * threshold) | (np.abs(dy) > threshold)
    out = far.astype(np.uint8) * 255
    out[holes_half > 0] = 0
    # Lone pixels are noise, a beard's stubble or a pore, not an object: open, then close.
    k3 = np.ones((3, 3), np.uint8)
    out = cv2.morphologyEx(out, cv2.MORPH_OPEN, k3)
    return cv2.morphologyEx(out, cv2.MORPH_CLOSE, k3)


def keep_in_front(alpha: np.ndarray, occluded_half: np.ndarray, strength: float) -> np.ndarray:
    """``alpha`` (float32, patch-sized) lowered where the half-resolution ``occluded`` mask is
    set, with a one-pixel soft edge; ``strength`` 0..1."""
    h, w = alpha.shape
    occ = cv2.resize(occluded_half, (w, h), interpolation=cv2.INTER_LINEAR)
    # Grow by a pixel (the half-resolution edge) and soften: an object's rim stays its own.
    occ = cv2.dilate(occ, np.ones((3, 3), np.uint8))
    soft = cv2.GaussianBlur(occ, (5, 5), 0).astype(np.float32) * (strength / 255.0)
    return alpha * (1.0 - soft)


def find_occluders(
    patch: np.ndarray,
    target_mesh: np.ndarray,
    drawn_mesh: np.ndarray,
    origin: tuple[int, int],
    size: float,
    threshold: float,
) -> np.ndarray | None:
    """The half-resolution occluder mask (uint8 0/255) of one face's patch (sides a multiple
    of 2), or None when nothing is in front (or too little skin shows to tell).

    ``target_mesh`` is the live face's mesh, ``drawn_mesh`` the one the source is drawn on
    (its features may sit a few pixels apart: both are left out of the check).
    """
    rh, rw = patch.shape[:2]
    half = (rw // 2, rh // 2)
    ycc = cv2.cvtColor(cv2.resize(patch, half, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YCrCb)
    skin = skin_mask(target_mesh, (half[1], half[0]), origin, 0.03 * size, 0.5)
    holes = feature_holes(
        (target_mesh, drawn_mesh), (half[1], half[0]), origin, 0.01 * size, 0.5, 0.06 * size
    )
    occ = occluder_mask(ycc, skin, holes, threshold)
    if occ is None or not occ.any():
        return None
    return occ

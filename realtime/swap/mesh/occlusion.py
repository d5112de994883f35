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

from realtime.swap.mesh.masks import BROW_LEFT, BROW_RIGHT, EYE_LEFT, EYE_RIGHT, LIPS_OUTER, _fixed

# Below this many skin pixels (at half resolution) the model is not trusted: nothing is kept.
MIN_SKIN = 64
# Floors of the spreads (8-bit levels), so a flat, over-exposed face does not flag its noise.
MIN_CHROMA_SPREAD = 2.0
MIN_LUMA_SPREAD = 6.0
# Blobs narrower than this (fraction of the face size, as a square's side) are the face's own.
MIN_BLOB = 0.06
# Luma is checked much more loosely than chroma: shading moves it across the face.
LUMA_FACTOR = 2.5


def feature_holes(
    meshes: tuple[np.ndarray, ...],
    shape: tuple[int, int],
    origin: tuple[int, int],
    grow: float,
    scale: float,
    eye_band: float = 0.0,
    mouth: np.ndarray = LIPS_OUTER,
) -> np.ndarray:
    """uint8 0/255 where the check is off: the ``mouth`` of each mesh (the lips, or their
    opening) widened by ``grow`` frame pixels, and the band of eyes and brows (one hull
    over both) widened by ``eye_band``.

    The band is one piece so that glasses are either kept whole or swapped whole: their rims
    run across brows and cheeks, and a check that kept what lies outside the brows would
    leave fragments of frames on the swapped face.
    """
    holes = np.zeros(shape, np.uint8)
    eyes = np.concatenate([EYE_LEFT, EYE_RIGHT, BROW_LEFT, BROW_RIGHT])
    for mesh in meshes:
        for region, g, extra in ((mouth, grow, 0), (eyes, max(grow, eye_band), -1)):
            hull = cv2.convexHull(_fixed(mesh[region], origin, scale))
            cv2.fillConvexPoly(holes, hull, 255, cv2.LINE_8, shift=4)
            r = round(g * scale)
            if r > 0:  # widened by drawing its outline about 2r thick (a dilation, far cheaper)
                cv2.polylines(holes, [hull], True, 255, max(1, 2 * r + extra), cv2.LINE_8, shift=4)
    return holes


def _grouped_median(h: np.ndarray) -> float:
    """The median of integer values from their histogram, interpolated within its bin (each
    bin read as values spread evenly over [k - 0.5, k + 0.5))."""
    cum = np.cumsum(h)
    half = cum[-1] / 2.0
    k = int(np.searchsorted(cum, half))
    before = cum[k - 1] if k > 0 else 0.0
    return k - 0.5 + (half - before) / max(float(h[k]), 1e-9)


def _robust(hist: np.ndarray, floor: float) -> tuple[float, float]:
    """Median and 1.4826 x median absolute deviation of 8-bit values from their 256-bin
    histogram (cumulative sums, no sorting)."""
    h = hist.reshape(256).astype(np.float64)
    med = _grouped_median(h)
    dev = np.bincount(np.abs(np.arange(256) - round(med)), weights=h, minlength=256)
    mad = max(_grouped_median(dev), 0.0)
    return med, max(1.4826 * mad, floor)


def occluder_mask(
    ycc_half: np.ndarray, skin_half: np.ndarray, holes_half: np.ndarray, threshold: float
) -> np.ndarray | None:
    """uint8 0/255 at half resolution: pixels that are not this face's skin (outside the
    feature ``holes``); None when too little skin is visible to build the model.

    ``ycc_half`` is the live patch in YCrCb, ``skin_half`` the target's skin region (uint8),
    ``threshold`` the distance, in robust standard deviations, beyond which a pixel is not skin.
    """
    if cv2.countNonZero(skin_half) < MIN_SKIN:
        return None
    hists = [cv2.calcHist([ycc_half], [c], skin_half, [256], [0, 256]) for c in range(3)]
    my, sy = _robust(hists[0], MIN_LUMA_SPREAD)
    mr, sr = _robust(hists[1], MIN_CHROMA_SPREAD)
    mb, sb = _robust(hists[2], MIN_CHROMA_SPREAD)
    # The distances through 256-entry tables (8-bit inputs): each chroma channel's squared
    # distance with threshold**2 at 128, so that their saturated sum reaches 128 at the
    # threshold; luma far or not.
    levels = np.arange(256, dtype=np.float32)
    unit = 128.0 / (threshold * threshold)
    lut_r = np.minimum(((levels - mr) / sr) ** 2 * unit, 255).astype(np.uint8)
    lut_b = np.minimum(((levels - mb) / sb) ** 2 * unit, 255).astype(np.uint8)
    lut_y = np.where(np.abs(levels - my) > threshold * LUMA_FACTOR * sy, 255, 0).astype(np.uint8)
    y, cr, cb = cv2.split(ycc_half)
    chroma = cv2.add(cv2.LUT(cr, lut_r), cv2.LUT(cb, lut_b))
    out = cv2.bitwise_or(cv2.threshold(chroma, 127, 255, cv2.THRESH_BINARY)[1], cv2.LUT(y, lut_y))
    out[holes_half > 0] = 0
    return _clean(out)


def _clean(mask: np.ndarray) -> np.ndarray:
    """Lone pixels are noise, a beard's stubble or a pore, not an object: open, then close."""
    k3 = np.ones((3, 3), np.uint8)
    return cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, k3), cv2.MORPH_CLOSE, k3)


def keep_in_front(alpha: np.ndarray, occluded_half: np.ndarray, strength: float) -> np.ndarray:
    """``alpha`` (float32, patch-sized) lowered where the half-resolution ``occluded`` mask is
    set, with a one-pixel soft edge; ``strength`` 0..1."""
    h, w = alpha.shape
    # Only the box around what is in front is touched (an object is usually a small part).
    bx, by, bw, bh = cv2.boundingRect(occluded_half)
    x0, y0 = max(0, 2 * bx - 4), max(0, 2 * by - 4)
    x1, y1 = min(w, 2 * (bx + bw) + 4), min(h, 2 * (by + bh) + 4)
    sub = occluded_half[y0 // 2 : (y1 + 1) // 2, x0 // 2 : (x1 + 1) // 2]
    occ = cv2.resize(sub, (2 * sub.shape[1], 2 * sub.shape[0]), interpolation=cv2.INTER_LINEAR)[
        : y1 - y0, : x1 - x0
    ]
    # Grow by a pixel (the half-resolution edge) and soften: an object's rim stays its own.
    occ = cv2.dilate(occ, np.ones((5, 5), np.uint8))
    soft = cv2.GaussianBlur(occ, (5, 5), 0).astype(np.float32) * (strength / 255.0)
    out = alpha.copy()
    out[y0:y1, x0:x1] *= 1.0 - soft
    return out


def find_occluders(
    ycc_half: np.ndarray,
    skin_half: np.ndarray,
    target_mesh: np.ndarray,
    drawn_mesh: np.ndarray,
    origin: tuple[int, int],
    size: float,
    threshold: float,
    changed: np.ndarray | None = None,
) -> np.ndarray | None:
    """The half-resolution occluder mask (uint8 0/255) of one face's patch, or None when
    nothing is in front (or too little skin shows to tell).

    ``ycc_half`` is the live patch at half resolution in YCrCb, ``skin_half`` the target's
    skin there; ``target_mesh`` is the live face's mesh, ``drawn_mesh`` the one the source
    is drawn on (its features may sit a few pixels apart: both are left out of the check).
    ``changed`` (uint8 0/255 at half resolution, or None) marks the pixels that have changed
    since the face was last seen clear (``realtime.swap.mesh.memory``): they are in front too.
    """
    holes = feature_holes((target_mesh, drawn_mesh), skin_half.shape, origin, 0.01 * size, 0.5, 0.06 * size)
    occ = occluder_mask(ycc_half, skin_half, holes, threshold)
    if changed is not None and changed.any():
        moved = _clean(changed)
        occ = moved if occ is None else cv2.bitwise_or(occ, moved)
    if occ is None or not occ.any():
        return None
    return drop_small(occ, (MIN_BLOB * size * 0.5) ** 2)


def drop_small(mask: np.ndarray, min_area: float) -> np.ndarray | None:
    """``mask`` without the blobs smaller than ``min_area`` pixels (a wrinkle, a shadow
    line, a mole: the face's own, which the swap should replace), or None when none is left."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
    if len(small) == n - 1:
        return None
    if len(small):
        mask = mask.copy()
        mask[np.isin(labels, small)] = 0
    return mask

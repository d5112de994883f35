"""Blending the swapped face into the frame: a feathered alpha, or a multi-band blend.

The feather is a ramp on the distance to the mask's edge, so it never reaches outside the
mask (where the warped source has no pixels) the way a plain Gaussian blur of the mask would.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

BLEND_MODES = ("feather", "multiband")
# How much of the erosion and ramp is taken off at the chin (see ``feather``'s ``jaw``).
JAW_SHRINK = 0.67


def feather(
    mask: np.ndarray,
    erode: float,
    ramp: float,
    open_edges: tuple[bool, bool, bool, bool] = (False, False, False, False),
    jaw: tuple[float, float] | None = None,
) -> np.ndarray:
    """Alpha (float32, 0..1) that is 0 within ``erode`` pixels (at least 2) of the mask's edge
    and rises smoothly to 1 over the next ``ramp`` pixels inward.

    ``open_edges`` (top, bottom, left, right) marks sides of the patch where the mask goes on
    beyond the frame: there the mask is extended instead of ending, so a face cut by the
    frame's border is not faded out along it. The distance is measured at half resolution
    (the ramp is smooth, and this is the costliest step of the blend otherwise).

    ``jaw`` (the rows, in patch pixels, of the mouth and the chin): below the mouth the
    erosion and ramp shrink toward the chin, to a third at the chin, so the swap reaches down
    to the jaw line, where the face's own edge hides the blend, instead of leaving a band of
    the target's chin (a "goatee") inside the fade.
    """
    m = np.ascontiguousarray(mask, np.uint8)
    h, w = m.shape
    if not m.any():
        return np.zeros((h, w), np.float32)
    half = ((w + 1) // 2, (h + 1) // 2)
    small = cv2.resize(m, half, interpolation=cv2.INTER_NEAREST)
    pad = cv2.copyMakeBorder(small, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    top, bottom, left, right = open_edges
    if top:
        pad[0, 1:-1] = small[0]
    if bottom:
        pad[-1, 1:-1] = small[-1]
    if left:
        pad[1:-1, 0] = small[:, 0]
    if right:
        pad[1:-1, -1] = small[:, -1]
    dist = cv2.distanceTransform(pad, cv2.DIST_L2, cv2.DIST_MASK_3)[1:-1, 1:-1]
    # Distances in full-resolution pixels, minus half a pixel of the sampling step. At least
    # 2 pixels of erosion keep the enlarged ramp from reaching past the mask's edge.
    if jaw is None:
        t = (dist * 2.0 - 1.0 - max(erode, 2.0)) * (1.0 / max(ramp, 1e-3))
    else:
        rows = (np.arange(half[1], dtype=np.float32) * 2.0 + 0.5 - jaw[0]) / max(jaw[1] - jaw[0], 1.0)
        k = (1.0 - JAW_SHRINK * np.clip(rows, 0.0, 1.0))[:, None]
        t = (dist * 2.0 - 1.0 - np.maximum(erode * k, 2.0)) / np.maximum(ramp * k, 1e-3)
    np.clip(t, 0.0, 1.0, out=t)
    t = t * t * (3.0 - 2.0 * t)
    return cv2.resize(t, (w, h), interpolation=cv2.INTER_LINEAR)


def alpha_blend(base: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``base`` + ``alpha`` * (``top`` - ``base``) for uint8 images, as uint8."""
    a = alpha.astype(np.float32, copy=False)
    return cv2.blendLinear(top, base, a, 1.0 - a)


def two_band(base: np.ndarray, top: np.ndarray, alpha: np.ndarray, sigma: float) -> np.ndarray:
    """Two-band blend: detail goes in by ``alpha``, the low frequencies (Gaussian ``sigma``
    pixels) by a wider, blurred ``alpha``, which spreads a residual tone step over a wider band
    than one feather can without blurring the detail. The low band works at quarter
    resolution (sides must be multiples of 4; otherwise this is the plain feather); ``top``
    counts only where ``alpha > 0`` (outside, it is not drawn).

    This is a Laplacian-pyramid blend cut to the two bands that matter at a face's outline:
    ``out = feather + (alpha_wide - alpha) * (low(top) - low(base))``.
    """
    out = alpha_blend(base, top, alpha)
    h, w = alpha.shape
    q = (max(1, w // 4), max(1, h // 4))
    if (w % 4) or (h % 4):  # keep OpenCV on its fast, exact 4x path
        return out
    s = max(sigma / 4.0, 0.5)
    a = cv2.resize(alpha, q, interpolation=cv2.INTER_AREA)
    m = (a > 0).astype(np.float32)
    if not m.any():
        return out
    t = cv2.resize(top, q, interpolation=cv2.INTER_AREA).astype(np.float32)
    b = cv2.resize(base, q, interpolation=cv2.INTER_AREA).astype(np.float32)
    den = np.maximum(cv2.GaussianBlur(m, (0, 0), s), 1e-3)[:, :, None]
    low_t = cv2.GaussianBlur(t * m[:, :, None], (0, 0), s) / den
    low_b = cv2.GaussianBlur(b, (0, 0), s)
    wide = cv2.GaussianBlur(a, (0, 0), s)
    # Both factors are smooth, so the correction is formed at quarter resolution too.
    corr = (wide - a)[:, :, None] * (low_t - low_b)
    return cv2.add(out, cv2.resize(corr, (w, h), interpolation=cv2.INTER_LINEAR), dtype=cv2.CV_8U)


def composite(
    out: np.ndarray,
    warped: np.ndarray,
    colour: np.ndarray,
    shade: np.ndarray | None,
    alpha: np.ndarray,
    keep: Sequence[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]] = (),
    low_band_sigma: float = 0.0,
    grain: np.ndarray | None = None,
) -> None:
    """Blend the warped source into ``out`` (a patch of the frame, changed in place).

    The source gets the 3x4 BGR ``colour`` matrix and the luma ``shade`` offset (int16 or
    float32, one channel), then the target's own pixels of each ``keep`` feature (box
    ``x0, y0, x1, y1`` in the patch, its pixels, its soft mask), then goes in by ``alpha``,
    or with ``low_band_sigma`` > 0 by ``two_band``. ``grain`` (int16, 3 channels) is the
    camera's noise added to the source before the target's features go back in.
    """
    top = cv2.transform(warped, np.ascontiguousarray(colour, np.float32))
    if shade is not None:
        s = shade if shade.dtype == np.int16 else np.round(shade).astype(np.int16)
        top = cv2.add(top, cv2.merge([s, s, s]), dtype=cv2.CV_8U)
    if grain is not None:
        top = cv2.add(top, grain, dtype=cv2.CV_8U)
    for (x0, y0, x1, y1), pixels, soft in keep:
        sub = top[y0:y1, x0:x1]
        sub[...] = alpha_blend(sub, pixels, soft)
    if low_band_sigma > 0:
        out[...] = two_band(out, top, alpha, low_band_sigma)
    else:
        out[...] = alpha_blend(out, top, alpha)

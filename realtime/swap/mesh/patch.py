"""Where one face is drawn: its patch of the frame, and the target's own features (mouth
interior, eyes) moved to where the blended mesh puts them."""

from __future__ import annotations

import math

import cv2
import numpy as np

from realtime.swap.mesh.masks import fill


def _fit4(lo: int, hi: int, limit: int) -> tuple[int, int]:
    """Widen [lo, hi) to a multiple of 4 within [0, limit) (narrow it if the frame is too
    small), so that the half- and quarter-resolution steps are exact 2x/4x reductions (OpenCV's
    fast path) and line up with the full-resolution patch."""
    extra = (-(hi - lo)) % 4
    grow_hi = min(extra, limit - hi)
    hi += grow_hi
    lo -= min(extra - grow_hi, lo)
    return lo, lo + (hi - lo) // 4 * 4


def region_of(mesh: np.ndarray, width: int, height: int, pad: int) -> tuple[int, int, int, int] | None:
    """The mesh's integer bounding box plus ``pad``, clipped to the frame, sides a multiple of
    4; None when (nearly) empty."""
    lo = np.floor(mesh[:, :2].min(axis=0)) - pad
    hi = np.ceil(mesh[:, :2].max(axis=0)) + pad + 1
    x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
    x1, y1 = min(width, int(hi[0])), min(height, int(hi[1]))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    x0, x1 = _fit4(x0, x1, width)
    y0, y1 = _fit4(y0, y1, height)
    return x0, y0, x1, y1


def _shifted(m: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """A 2x3 affine on frame pixels re-expressed with its output in a patch at (dx, dy)."""
    out = m.astype(np.float64).copy()
    out[0, 2] -= dx
    out[1, 2] -= dy
    return out


def _is_identity(m: np.ndarray) -> bool:
    return bool(np.allclose(m, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], atol=1e-3))


Keep = tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]


def target_feature(
    image: np.ndarray,
    outline: np.ndarray,
    move: np.ndarray,
    origin: tuple[int, int],
    shape: tuple[int, int],
    sigma: float,
) -> Keep | None:
    """The target's own pixels of one feature (mouth interior, an eye) where the blended mesh
    puts it: its box in the patch, its pixels (moved by ``move``, target pixels -> blended
    pixels) and its soft mask (``outline`` is where it lands, blurred over ``sigma``)."""
    h, w = shape
    pad = math.ceil(2 * sigma) + 2  # the band (sigma / 2) plus three blur sigmas (sigma / 2)
    x0, y0 = origin
    lo = np.floor(outline.min(axis=0)).astype(int) - pad - (x0, y0)
    hi = np.ceil(outline.max(axis=0)).astype(int) + pad + 1 - (x0, y0)
    bx0, by0 = max(0, int(lo[0])), max(0, int(lo[1]))
    bx1, by1 = min(w, int(hi[0])), min(h, int(hi[1]))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    bw, bh = bx1 - bx0, by1 - by0
    # The soft mask is smooth: drawn and blurred at half resolution, then enlarged.
    half = fill(((bh + 1) // 2, (bw + 1) // 2), outline, (x0 + bx0, y0 + by0), 0.5, grow=0.5 * sigma)
    if not half.any():
        return None
    half = cv2.GaussianBlur(half.astype(np.float32) * (1.0 / 255.0), (0, 0), max(0.25 * sigma, 0.5))
    soft = cv2.resize(half, (2 * half.shape[1], 2 * half.shape[0]), interpolation=cv2.INTER_LINEAR)
    soft = np.ascontiguousarray(soft[:bh, :bw])
    fx0, fy0 = x0 + bx0, y0 + by0
    if _is_identity(move):
        pixels = image[fy0 : fy0 + by1 - by0, fx0 : fx0 + bx1 - bx0].copy()
    else:
        pixels = cv2.warpAffine(
            image,
            _shifted(move, fx0, fy0),
            (bx1 - bx0, by1 - by0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return (bx0, by0, bx1, by1), pixels, soft

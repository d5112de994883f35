"""Blending the swapped face into the frame: a feathered alpha, or a multi-band blend.

The feather is a ramp on the distance to the mask's edge, so it never reaches outside the
mask (where the warped source has no pixels) the way a plain Gaussian blur of the mask would.
"""

from __future__ import annotations

import cv2
import numpy as np

BLEND_MODES = ("feather", "multiband")


def feather(
    mask: np.ndarray,
    erode: float,
    ramp: float,
    open_edges: tuple[bool, bool, bool, bool] = (False, False, False, False),
) -> np.ndarray:
    """Alpha (float32, 0..1) that is 0 within ``erode`` pixels of the mask's edge and rises
    smoothly to 1 over the next ``ramp`` pixels inward.

    ``open_edges`` (top, bottom, left, right) marks sides of the patch where the mask goes on
    beyond the frame: there the mask is extended instead of ending, so a face cut by the
    frame's border is not faded out along it. The distance is measured at half resolution
    (the ramp is smooth, and this is the costliest step of the blend otherwise).
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
    # Distances in full-resolution pixels, minus half a pixel of the sampling step.
    t = (dist * 2.0 - 1.0 - erode) * (1.0 / max(ramp, 1e-3))
    np.clip(t, 0.0, 1.0, out=t)
    t = t * t * (3.0 - 2.0 * t)
    alpha = cv2.resize(t, (w, h), interpolation=cv2.INTER_LINEAR)
    alpha[m == 0] = 0.0  # the upsampled ramp must not reach past the mask
    return alpha


def alpha_blend(base: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``base`` + ``alpha`` * (``top`` - ``base``) for uint8 images, as uint8."""
    a = alpha.astype(np.float32, copy=False)
    return cv2.blendLinear(top, base, a, 1.0 - a)


def multiband(base: np.ndarray, top: np.ndarray, alpha: np.ndarray, levels: int = 4) -> np.ndarray:
    """Laplacian-pyramid blend: low frequencies mix over a wide band, detail over a narrow one,
    which hides a tone step at the seam better than one feather width can.

    ``top`` outside ``alpha > 0`` is first filled from ``base`` so that no black (unwarped)
    pixel leaks into the coarse levels.
    """
    h, w = alpha.shape
    levels = max(1, min(levels, int(np.log2(max(min(h, w), 2))) - 2))
    a = alpha.astype(np.float32)
    b = base.astype(np.float32)
    t = np.where((a > 0)[:, :, None], top, base).astype(np.float32)
    gb, gt, ga = [b], [t], [a]
    for _ in range(levels):
        gb.append(cv2.pyrDown(gb[-1]))
        gt.append(cv2.pyrDown(gt[-1]))
        ga.append(cv2.pyrDown(ga[-1]))
    out = gb[-1] + ga[-1][:, :, None] * (gt[-1] - gb[-1])
    for i in range(levels - 1, -1, -1):
        size = (gb[i].shape[1], gb[i].shape[0])
        lb = gb[i] - cv2.pyrUp(gb[i + 1], dstsize=size)
        lt = gt[i] - cv2.pyrUp(gt[i + 1], dstsize=size)
        out = cv2.pyrUp(out, dstsize=size) + lb + ga[i][:, :, None] * (lt - lb)
    return np.clip(out, 0, 255).astype(np.uint8)


def composite(
    out: np.ndarray,
    warped: np.ndarray,
    colour: np.ndarray,
    shade: np.ndarray | None,
    alpha: np.ndarray,
    keep: list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]] = (),  # type: ignore[assignment]
    multiband_levels: int = 0,
) -> None:
    """Blend the warped source into ``out`` (a patch of the frame, changed in place).

    The source gets the 3x4 BGR ``colour`` matrix and the luma ``shade`` offset (int16 or
    float32, one channel), then the target's own pixels of each ``keep`` feature (box
    ``x0, y0, x1, y1`` in the patch, its pixels, its soft mask), then goes in by ``alpha``;
    with ``multiband_levels`` > 0 by a Laplacian-pyramid blend instead.
    """
    top = cv2.transform(warped, np.ascontiguousarray(colour, np.float32))
    if shade is not None:
        s = shade if shade.dtype == np.int16 else np.round(shade).astype(np.int16)
        top = cv2.add(top, cv2.merge([s, s, s]), dtype=cv2.CV_8U)
    for (x0, y0, x1, y1), pixels, soft in keep:
        sub = top[y0:y1, x0:x1]
        sub[...] = alpha_blend(sub, pixels, soft)
    if multiband_levels > 0:
        out[...] = multiband(out, top, alpha, multiband_levels)
    else:
        out[...] = alpha_blend(out, top, alpha)

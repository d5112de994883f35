"""Picture measures of a swap at 100 %: what the judge's identity and mouth scores miss.

All work on the luma of BGR uint8 images, in regions taken from the judge's 68 points of
the target (never from the swapper's own mesh or mask), so they grade the swap from outside.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def luma(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)


def inner_face(points: np.ndarray, shape: tuple[int, int], shrink: float = 0.15) -> np.ndarray:
    """Bool mask of the face's hull (68 points) eroded by ``shrink`` times the face's width:
    the part any swap replaces fully, away from the blend's edge."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    r = max(1, int(shrink * float(np.ptp(points[:, 0]))))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return mask > 0


def high_freq_energy(img: np.ndarray, region: np.ndarray, sigma: float = 1.5) -> float:
    """Mean squared difference between the luma and its Gaussian blur (``sigma``) over
    ``region``: fine detail and grain."""
    y = luma(img)
    d = y - cv2.GaussianBlur(y, (0, 0), sigma)
    return float((d[region] ** 2).mean())


def sharpness_ratio(result: np.ndarray, target: np.ndarray, region: np.ndarray) -> float:
    return high_freq_energy(result, region) / max(high_freq_energy(target, region), 1e-6)


def changed_region(result: np.ndarray, target: np.ndarray, threshold: int = 3) -> np.ndarray:
    """Bool mask of the swapped area: pixels changed by more than ``threshold`` in any
    channel, closed and filled (its largest blob)."""
    diff = (np.abs(result.astype(np.int16) - target.astype(np.int16)).max(axis=2) > threshold).astype(
        np.uint8
    )
    diff = cv2.morphologyEx(diff, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(diff)
    if n < 2:
        return np.zeros(diff.shape, bool)
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = (labels == big).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(blob)
    cv2.drawContours(filled, contours, -1, 1, -1)
    return filled > 0


def seam_ratio(result: np.ndarray, target: np.ndarray, width: float = 0.04, sigma: float = 1.0) -> float:
    """Gradient energy (mean Sobel magnitude of a lightly blurred luma) in a band across the
    edge of the swapped area, the result's over the target's in the same band. The band is
    ``width`` times the area's size on each side of its edge."""
    area = changed_region(result, target)
    if not area.any():
        return 1.0
    size = float(np.sqrt(area.sum()))
    r = max(2, int(width * size))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    a8 = area.astype(np.uint8)
    band = (cv2.dilate(a8, k) > 0) & ~(cv2.erode(a8, k) > 0)

    def energy(img: np.ndarray) -> float:
        y = cv2.GaussianBlur(luma(img), (0, 0), sigma)
        return float(np.hypot(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1))[band].mean())

    return energy(result) / max(energy(target), 1e-6)


def change_ratio(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], region: np.ndarray) -> float:
    """Mean |frame-to-frame difference| of the luma over ``region``, output's over input's:
    1 is the camera's own grain (or motion), below 1 a smoother ("plastic") face, above it
    shimmer the input does not have."""

    def mean_diff(frames: Sequence[np.ndarray]) -> float:
        ys = [luma(f) for f in frames]
        return float(np.mean([np.abs(b - a)[region].mean() for a, b in zip(ys[:-1], ys[1:])]))

    return mean_diff(outputs) / max(mean_diff(inputs), 1e-9)


def occluder_change(
    result: np.ndarray, composite: np.ndarray, occluder: np.ndarray, face: np.ndarray
) -> float:
    """Mean absolute change (grey levels, all channels) of the occluder's pixels that lie on
    the face: 0 when the object stays in front."""
    zone = occluder & face
    if not zone.any():
        return 0.0
    return float(np.abs(result.astype(np.float32) - composite.astype(np.float32))[zone].mean())


def motion_ratio(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], region: np.ndarray) -> float:
    """Apparent motion of the output over the input's on a moving clip: each side's mean
    |frame-to-frame difference| over ``region`` divided by its mean gradient magnitude there.

    A face moved by d pixels changes by about |gradient| * d, so a swapped face with more
    fine detail than the camera's (a sharper photo) is not counted as shimmer for it; what
    is left above 1 is movement the input does not have: jitter of the warp, popping.
    """

    def apparent(frames: Sequence[np.ndarray]) -> float:
        ys = [luma(f) for f in frames]
        change = np.mean([np.abs(b - a)[region].mean() for a, b in zip(ys[:-1], ys[1:])])
        grad = np.mean(
            [
                np.hypot(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1))[region].mean()
                for y in ys
            ]
        )
        return float(change / max(grad, 1e-6))

    return apparent(outputs) / max(apparent(inputs), 1e-9)

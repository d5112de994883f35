"""Colour and lighting match of the warped source face to the target's skin and light.

Two parts: a mean/std transfer of luma and chroma over the skin (tone), then the target's
low-frequency luma replaces the source's (the scene's shading: one side lit, a warm lamp),
keeping the source's fine detail. Statistics are smoothed per track so that the tone does
not flicker with noise or small pose changes.

The transfer works in YCrCb rather than LAB: YCrCb is an affine function of BGR, so a
per-channel affine map there is one 3x4 matrix on BGR, applied per pixel while compositing,
and a luma offset is the same offset on B, G and R. Nothing is converted at full resolution;
statistics and shading are measured on half- and quarter-resolution samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# OpenCV's 8-bit BGR -> YCrCb: Y = .299 R + .587 G + .114 B, Cr = .713 (R - Y) + 128,
# Cb = .564 (B - Y) + 128, as rows over (B, G, R).
_LUMA = np.array([0.114, 0.587, 0.299])
YCC_FROM_BGR = np.stack(
    [_LUMA, 0.713 * (np.array([0.0, 0.0, 1.0]) - _LUMA), 0.564 * (np.array([1.0, 0.0, 0.0]) - _LUMA)]
)
YCC_OFFSET = np.array([0.0, 128.0, 128.0])
BGR_FROM_YCC = np.linalg.inv(YCC_FROM_BGR)

# Skin pixels (at the resolution measured) below which statistics are not trusted.
MIN_SKIN_PIXELS = 32
# Std ratios are bounded so that a flat (over-exposed) patch cannot blow the contrast up.
STD_RATIO_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class ColourStats:
    """Per-channel mean and std of 8-bit YCrCb (Y, Cr, Cb) over a region."""

    mean: np.ndarray  # (3,) float64
    std: np.ndarray  # (3,) float64

    def mix(self, other: ColourStats, weight: float) -> ColourStats:
        """``self`` moved toward ``other`` by ``weight`` (0: unchanged, 1: other)."""
        return ColourStats(
            self.mean + weight * (other.mean - self.mean), self.std + weight * (other.std - self.std)
        )


def colour_stats(ycc: np.ndarray, mask: np.ndarray) -> ColourStats | None:
    """Mean/std of ``ycc`` (H, W, 3 uint8) under the uint8 ``mask``; None when too little skin
    is visible to trust them."""
    if cv2.countNonZero(mask) < MIN_SKIN_PIXELS:
        return None
    mean, std = cv2.meanStdDev(ycc, mask=mask)
    return ColourStats(mean.reshape(3), std.reshape(3) + 1e-3)


class StatsSmoother:
    """Exponential smoothing of (source, target) colour statistics per face track.

    Owned by one swapper (no module state); tracks unseen for ``max_age`` frames are dropped.
    Faces without a track (``track_id < 0``, e.g. stills) are not smoothed.
    """

    def __init__(self, weight: float, max_age: int = 30) -> None:
        self.weight = float(weight)
        self.max_age = int(max_age)
        self._state: dict[int, tuple[int, ColourStats, ColourStats]] = {}

    def update(
        self, track_id: int, frame_index: int, src: ColourStats, tgt: ColourStats
    ) -> tuple[ColourStats, ColourStats]:
        """Fold this frame's statistics into the track's and return the smoothed pair."""
        if track_id < 0 or self.weight >= 1.0:
            return src, tgt
        prev = self._state.get(track_id)
        if prev is not None and 0 <= frame_index - prev[0] <= self.max_age:
            src, tgt = prev[1].mix(src, self.weight), prev[2].mix(tgt, self.weight)
        self._state[track_id] = (frame_index, src, tgt)
        stale = [k for k, v in self._state.items() if abs(frame_index - v[0]) > self.max_age]
        for k in stale:
            del self._state[k]
        return src, tgt

    def reset(self) -> None:
        self._state.clear()

    def __len__(self) -> int:
        return len(self._state)


@dataclass(frozen=True)
class Transfer:
    """The tone transfer: per-channel YCrCb gain and offset, ``y' = gain * y + offset``."""

    gain: np.ndarray  # (3,)
    offset: np.ndarray  # (3,)

    def bgr_matrix(self) -> np.ndarray:
        """The same map on BGR pixels as a 3x4 float32 matrix ``[M | o]``."""
        g = np.diag(self.gain)
        m = BGR_FROM_YCC @ g @ YCC_FROM_BGR
        o = BGR_FROM_YCC @ (g @ YCC_OFFSET + self.offset - YCC_OFFSET)
        return np.concatenate([m, o[:, None]], axis=1).astype(np.float32)


def tone_transfer(src: ColourStats, tgt: ColourStats, strength: float) -> Transfer:
    """Map the source's skin mean/std toward the target's by ``strength`` (0..1)."""
    ratio = np.clip(tgt.std / src.std, *STD_RATIO_RANGE)
    gain = 1.0 + strength * (ratio - 1.0)
    mean = src.mean + strength * (tgt.mean - src.mean)
    return Transfer(gain, mean - gain * src.mean)


def masked_lowpass(channel: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of ``channel`` using only pixels where ``mask`` (float32 0..1) is set.

    Normalised convolution: holes (eyes, mouth, glasses rims) are filled from the skin around
    them instead of darkening it.
    """
    s = max(float(sigma), 0.5)
    num = cv2.GaussianBlur(channel * mask, (0, 0), s)
    den = cv2.GaussianBlur(mask, (0, 0), s)
    return num / np.maximum(den, 1e-3)


def shading_offset(
    target_luma: np.ndarray,
    target_skin: np.ndarray,
    source_luma: np.ndarray,
    source_skin: np.ndarray,
    transfer: Transfer,
    sigma: float,
    amount: float,
) -> np.ndarray:
    """Luma to add to the tone-matched source so that its low frequencies become the
    target's: ``amount * (low(target) - low(transferred source))``, at the inputs' resolution.

    Lumas are float32 images, skins float32 0..1 masks, ``sigma`` in the inputs' pixels.
    """
    low_t = masked_lowpass(target_luma, target_skin, sigma)
    low_s = masked_lowpass(source_luma, source_skin, sigma)
    return (amount * (low_t - (transfer.gain[0] * low_s + transfer.offset[0]))).astype(np.float32)

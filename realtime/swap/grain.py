"""The camera's grain on the swapped face: without it the face is smooth and plastic inside
a noisy picture (0.45 times the input's frame-to-frame change on a noisy still).

The target's noise is measured on its own skin, per channel, two ways, each an upper bound:
in space (Immerkaer's estimator: the image through a kernel that cancels planes and ramps,
so smooth skin and shading drop out and mostly noise is left) and, for a tracked face, in
time (the same kernel over the difference from the previous frame, which holds only the
noise when the face is still, and more when it moves). The smaller is the camera's
temporal noise. The warped photo's own noise is measured the same way in space, and fresh
Gaussian grain of the missing variance is added each frame, per channel.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Immerkaer's kernel: the difference of two Laplacians; zero response to planes and ramps.
KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
SCALE = math.sqrt(math.pi / 2.0) / 6.0
# Skin pixels below which no estimate is made.
MIN_PIXELS = 200
# Weight of the newest estimate in a track's running value.
SMOOTHING = 0.25
# Side of the tile of unit Gaussian noise the grain is cut from (at a new place each frame).
TILE = 512


def _tile() -> np.ndarray:
    """Unit Gaussian noise (TILE, TILE, 3) float32 from a fixed seed: the grain of a frame
    depends only on its index, so the same frame swapped twice gives the same picture."""
    return np.random.default_rng(24).standard_normal((TILE, TILE, 3), dtype=np.float32)


NOISE = _tile()
NOISE.flags.writeable = False


def noise_sigma(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Per-channel noise standard deviation (3,) of ``image`` (uint8 BGR, or a float32
    difference image) under the uint8 ``mask``; None when the mask is too small."""
    m = mask > 0
    if int(m.sum()) < MIN_PIXELS:
        return None
    r = cv2.filter2D(
        image.astype(np.float32, copy=False), cv2.CV_32F, KERNEL, borderType=cv2.BORDER_REPLICATE
    )
    return SCALE * np.abs(r[m]).mean(axis=0).reshape(3)


class GrainMatcher:
    """The grain to add to one face each frame, with per-track memory of the previous patch
    (for the temporal estimate) and of the running estimate."""

    def __init__(self, max_age: int = 30) -> None:
        self.max_age = max_age
        self._state: dict[
            int, tuple[int, tuple[int, int], np.ndarray, np.ndarray]
        ] = {}  # frame, origin, patch, (spatial, temporal)

    def reset(self) -> None:
        self._state.clear()

    def target_sigma(
        self,
        track_id: int,
        frame_index: int,
        patch: np.ndarray,
        drawn: np.ndarray,
        origin: tuple[int, int],
        skin: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
        """The camera's noise on this face (3,) in space, and for a tracked face in time,
        with how much the ``drawn`` (warped) photo itself changes in time by the same
        measure (each smoothed per track); None when too little skin shows."""
        spatial = noise_sigma(patch, skin)
        if spatial is None:
            return None
        if track_id < 0:
            return spatial, None, None
        temporal = moving = None
        prev = self._state.get(track_id)
        if prev is not None and 0 < frame_index - prev[0] <= self.max_age:
            _, porigin, ppatch, pdrawn, psmooth = prev
            now = self._temporal(patch, origin, skin, ppatch, porigin)
            # Each is an upper bound of the temporal noise: motion adds to one, texture to
            # the other.
            temporal = spatial if now is None else np.minimum(spatial, now)
            moving = self._temporal(drawn, origin, skin, pdrawn, porigin)
            if moving is None:
                moving = np.zeros(3)
            if frame_index - prev[0] == 1:
                spatial = psmooth[0] + SMOOTHING * (spatial - psmooth[0])
                if np.all(np.isfinite(psmooth[1])):  # the first temporal estimate is taken whole
                    temporal = psmooth[1] + SMOOTHING * (temporal - psmooth[1])
                    moving = psmooth[2] + SMOOTHING * (moving - psmooth[2])
        nan = np.full(3, np.nan)
        smooth = np.stack([spatial, nan if temporal is None else temporal, nan if moving is None else moving])
        self._state[track_id] = (frame_index, origin, patch.copy(), drawn, smooth)
        if len(self._state) > 8:
            for k in [k for k, v in self._state.items() if abs(frame_index - v[0]) > self.max_age]:
                del self._state[k]
        return spatial, temporal, moving

    @staticmethod
    def _temporal(
        patch: np.ndarray,
        origin: tuple[int, int],
        skin: np.ndarray,
        prev: np.ndarray,
        prev_origin: tuple[int, int],
    ) -> np.ndarray | None:
        """Noise from the difference with the previous frame's patch over their overlap."""
        x0, y0 = max(origin[0], prev_origin[0]), max(origin[1], prev_origin[1])
        x1 = min(origin[0] + patch.shape[1], prev_origin[0] + prev.shape[1])
        y1 = min(origin[1] + patch.shape[0], prev_origin[1] + prev.shape[0])
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        a = patch[y0 - origin[1] : y1 - origin[1], x0 - origin[0] : x1 - origin[0]]
        b = prev[y0 - prev_origin[1] : y1 - prev_origin[1], x0 - prev_origin[0] : x1 - prev_origin[0]]
        diff = cv2.subtract(a, b, dtype=cv2.CV_32F)
        s = noise_sigma(diff, skin[y0 - origin[1] : y1 - origin[1], x0 - origin[0] : x1 - origin[0]])
        return None if s is None else s * (1.0 / math.sqrt(2.0))

    @staticmethod
    def grain(
        spatial: np.ndarray,
        temporal: np.ndarray | None,
        source: np.ndarray | None,
        moving: np.ndarray | None,
        shape: tuple[int, int],
        strength: float,
        frame_index: int = 0,
    ) -> np.ndarray | None:
        """Fresh int16 (h, w, 3) grain, or None when there is none to add.

        On a tracked face it is what the drawn face lacks of the camera's noise in time
        (``moving``: how much it changes by itself, with the warp's sub-pixel motion): the
        photo's own grain is still from frame to frame, so it does not count against it
        (and the target's still texture is what the swap replaces). On a still, it is what
        the photo (``source``) lacks of the target's noise in space.
        """
        if temporal is not None:
            var = temporal**2 - (0.0 if moving is None else moving**2)
        else:
            var = spatial**2 - (0.0 if source is None else source**2)
        add = strength * np.sqrt(np.maximum(var, 0.0))
        if float(add.max()) < 0.5:
            return None
        return cut_noise(shape, frame_index, add)


def cut_noise(shape: tuple[int, int], frame_index: int, sigma: np.ndarray) -> np.ndarray:
    """int16 (h, w, 3) Gaussian noise of per-channel ``sigma``, cut from the fixed tile at
    a place chosen by ``frame_index`` (consecutive frames get unrelated noise)."""
    h, w = shape
    k = (frame_index * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash
    dy, dx = k % TILE, (k >> 9) % TILE
    if dy + h <= TILE and dx + w <= TILE:
        unit = NOISE[dy : dy + h, dx : dx + w]
    else:  # wraps around (or a face larger than the tile): gathered row by column
        unit = NOISE[np.ix_((np.arange(h) + dy) % TILE, (np.arange(w) + dx) % TILE)]
    scaled = unit * sigma.astype(np.float32)
    return np.rint(scaled, out=scaled).astype(np.int16)

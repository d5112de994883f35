"""The camera's grain on the swapped face: without it the face is smooth and plastic inside
a noisy picture (0.15-0.67 times the input's frame-to-frame change on a noisy still).

The target's noise is measured on the luma of its mid-face (cheeks, nose, under the eyes:
skin in nearly every face), two ways, each an upper bound: in space (Immerkaer's estimator:
the image through a kernel that cancels planes and ramps, so smooth skin and shading drop
out and mostly noise is left) and, for a tracked face, in time (the same kernel over the
difference from the previous frame, which holds only the noise when the face is still and
more when it moves). The smaller is the camera's temporal noise. The drawn face's own
change in time is measured the same way and subtracted, and fresh Gaussian grain of the
missing variance is added to the luma each frame, cut from a fixed noise tile at a place
chosen by the frame's index (the same frame swapped twice gives the same picture).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Immerkaer's kernel: the difference of two Laplacians; zero response to planes and ramps.
KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
SCALE = math.sqrt(math.pi / 2.0) / 6.0
# Pixels below which no estimate is made.
MIN_PIXELS = 200
# Weight of the newest estimate in a track's running value.
SMOOTHING = 0.25
# Side of the tile of unit Gaussian noise the grain is cut from.
TILE = 512
# FaceMesh points spanning the mid-face box: cheeks, under the eyes, beside the nose.
MID_FACE = np.array([50, 280, 230, 450, 205, 425, 101, 330], np.intp)

NOISE = np.random.default_rng(24).standard_normal((TILE, TILE), dtype=np.float32)
NOISE.flags.writeable = False


def noise_sigma(gray: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """Noise standard deviation of a one-channel image (uint8, or a float32 difference),
    over ``mask`` (bool) when given; None when too few pixels."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return None
    r = np.abs(cv2.filter2D(gray.astype(np.float32, copy=False), cv2.CV_32F, KERNEL)[1:-1, 1:-1])
    if mask is not None:
        r = r[mask[1:-1, 1:-1]]
    if r.size < MIN_PIXELS:
        return None
    return SCALE * float(r.mean())


def mid_face_box(
    mesh: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The mid-face box (x0, y0, x1, y1) in patch pixels, or None when (nearly) empty."""
    p = mesh[MID_FACE, :2] - np.asarray(origin, np.float32)
    h, w = shape
    x0, y0 = max(0, int(p[:, 0].min())), max(0, int(p[:, 1].min()))
    x1, y1 = min(w, int(p[:, 0].max()) + 1), min(h, int(p[:, 1].max()) + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return x0, y0, x1, y1


def cut_noise(shape: tuple[int, int], frame_index: int, sigma: float) -> np.ndarray:
    """int16 (h, w) Gaussian noise of ``sigma``, cut from the fixed tile at a place chosen by
    ``frame_index`` (consecutive frames get unrelated noise)."""
    h, w = shape
    k = (frame_index * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash
    if h <= TILE and w <= TILE:  # a window that fits: a view, no copy
        dy, dx = k % (TILE - h + 1), (k >> 9) % (TILE - w + 1)
        unit = NOISE[dy : dy + h, dx : dx + w]
    else:  # a face larger than the tile: the tile repeated
        dy, dx = k % TILE, (k >> 9) % TILE
        unit = NOISE[np.ix_((np.arange(h) + dy) % TILE, (np.arange(w) + dx) % TILE)]
    return np.rint(unit * np.float32(sigma)).astype(np.int16)


class GrainMatcher:
    """How much grain one face needs, with per-track memory of the previous frame's mid-face
    (live and drawn, for the temporal estimates) and of the running estimates."""

    def __init__(self, max_age: int = 30) -> None:
        self.max_age = max_age
        # frame, box origin in the frame, live luma, drawn luma, smoothed (spatial, temporal, drawn)
        self._state: dict[int, tuple[int, tuple[int, int], np.ndarray, np.ndarray, np.ndarray]] = {}

    def reset(self) -> None:
        self._state.clear()

    def sigma(
        self,
        track_id: int,
        frame_index: int,
        live: np.ndarray,
        drawn: np.ndarray,
        at: tuple[int, int],
        keep: np.ndarray | None,
    ) -> float | None:
        """The grain's standard deviation for this frame of a face, from the mid-face luma of
        the live frame and of the drawn (colour-matched) photo, the box's frame position
        ``at`` and where it is skin (``keep``, bool, or None: all); None when unknown."""
        spatial = noise_sigma(live, keep)
        if spatial is None:
            return None
        if track_id < 0:  # a still: what the photo lacks of the target's noise in space
            source = noise_sigma(drawn, keep) or 0.0
            return math.sqrt(max(spatial**2 - source**2, 0.0))
        temporal = moving = math.nan
        prev = self._state.get(track_id)
        if prev is not None and 0 < frame_index - prev[0] <= self.max_age:
            _, pat, plive, pdrawn, psmooth = prev
            now = _temporal(live, at, plive, pat)
            # Each is an upper bound of the temporal noise: motion adds to one, texture to
            # the other.
            temporal = spatial if now is None else min(spatial, now)
            moving = _temporal(drawn, at, pdrawn, pat) or 0.0
            if frame_index - prev[0] == 1 and math.isfinite(psmooth[1]):
                temporal = psmooth[1] + SMOOTHING * (temporal - psmooth[1])
                moving = psmooth[2] + SMOOTHING * (moving - psmooth[2])
        self._state[track_id] = (frame_index, at, live, drawn, np.array([spatial, temporal, moving]))
        if len(self._state) > 8:
            for k in [k for k, v in self._state.items() if abs(frame_index - v[0]) > self.max_age]:
                del self._state[k]
        if not math.isfinite(temporal):  # a track's first frame: nothing to compare with yet
            source = noise_sigma(drawn, keep) or 0.0
            return math.sqrt(max(spatial**2 - source**2, 0.0))
        # On a stream: what the drawn face lacks of the camera's noise in time. The photo's
        # own grain is still from frame to frame, so it does not count against it.
        return math.sqrt(max(temporal**2 - moving**2, 0.0))


def _temporal(
    img: np.ndarray, at: tuple[int, int], prev: np.ndarray, prev_at: tuple[int, int]
) -> float | None:
    """Noise from the difference with the previous frame's box over their overlap."""
    x0, y0 = max(at[0], prev_at[0]), max(at[1], prev_at[1])
    x1 = min(at[0] + img.shape[1], prev_at[0] + prev.shape[1])
    y1 = min(at[1] + img.shape[0], prev_at[1] + prev.shape[0])
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    a = img[y0 - at[1] : y1 - at[1], x0 - at[0] : x1 - at[0]]
    b = prev[y0 - prev_at[1] : y1 - prev_at[1], x0 - prev_at[0] : x1 - prev_at[0]]
    s = noise_sigma(cv2.subtract(a, b, dtype=cv2.CV_32F))
    return None if s is None else s * (1.0 / math.sqrt(2.0))

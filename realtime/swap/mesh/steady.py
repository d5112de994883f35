"""A steady mesh for the swap: sub-pixel landmark jitter held back, real motion passed on.

On a still face the tracked mesh still trembles by 0.1-0.5 px a frame with the camera's
noise. The camera's own face does not move, but a drawn photo with fine detail does: it
shimmers, twice as much as the input changes on a noisy still with a detailed photo. Each
point here moves toward its newly tracked place by a share that grows with how far that is
(all of it from ``deadband`` pixels on), so a tremble is damped to a fraction while a
blink, speech or a turn of the head passes at once; the lag on a slow move stays below a
pixel.
"""

from __future__ import annotations

import numpy as np

# The least share of a step that is taken: a point never freezes.
MIN_SHARE = 0.1


class MeshSteadier:
    """Per-track smoothed meshes; tracks unseen for ``max_age`` frames are dropped. Faces
    without a track (stills) pass through."""

    def __init__(self, max_age: int = 30) -> None:
        self.max_age = int(max_age)
        self._state: dict[int, tuple[int, np.ndarray]] = {}

    def update(self, track_id: int, frame_index: int, mesh: np.ndarray, deadband: float) -> np.ndarray:
        """The steadied mesh (N, 3) float32 for this frame of ``track_id``; a point's step of
        ``deadband`` pixels or more is taken whole."""
        if track_id < 0 or deadband <= 0:
            return mesh
        cur = np.asarray(mesh, np.float32)
        prev = self._state.get(track_id)
        if prev is not None and 0 < frame_index - prev[0] <= self.max_age and prev[1].shape == cur.shape:
            last = prev[1]
            step = np.linalg.norm(cur[:, :2] - last[:, :2], axis=1)
            share = np.clip(step * (1.0 / deadband), MIN_SHARE, 1.0)[:, None]
            out = last + share * (cur - last)
        else:
            out = cur.copy()
        self._state[track_id] = (frame_index, out)
        if len(self._state) > 8:
            for k in [k for k, v in self._state.items() if abs(frame_index - v[0]) > self.max_age]:
                del self._state[k]
        return out

    def reset(self) -> None:
        self._state.clear()

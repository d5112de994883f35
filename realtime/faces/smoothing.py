"""One Euro filter (Casiraghi, Roussel, Vogel 2012) for landmark arrays.

A low-pass filter whose cutoff rises with speed: at rest a low cutoff (``min_cutoff`` Hz)
removes shimmer; when the face moves the cutoff grows by ``beta`` per unit of speed so the
points do not lag. Speeds are measured in ``scale`` units per second (the face size), so the
same settings work for a face near the camera and one across the room.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array (any shape) over time; ``reset()`` forgets the past.

    With ``vector=True`` the last axis holds one point's coordinates and the cutoff follows
    that point's speed, so a face moving sideways is not smoothed (and lagged) vertically just
    because its vertical speed passes through zero.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        default_dt: float = 1 / 30,
        *,
        vector: bool = False,
    ) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0 or default_dt <= 0:
            raise ValueError("OneEuroFilter needs min_cutoff > 0, d_cutoff > 0, beta >= 0")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.default_dt = float(default_dt)
        self.vector = vector
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0
        self._dt = self.default_dt

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """The filtered value of ``x`` observed at time ``t`` (seconds, monotonic)."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._dx is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if dt > 0:
            self._dt = dt
        else:  # a repeated or out-of-order timestamp: assume the last frame interval
            dt = self._dt
        self._t = max(self._t, float(t))
        scale = scale if scale > 0 else 1.0
        dx = (x - self._x) / (dt * scale)
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        # with ``vector`` one speed per point (the last axis holds its coordinates)
        speed = np.linalg.norm(self._dx, axis=-1, keepdims=True) if self.vector else np.abs(self._dx)
        cutoff = self.min_cutoff + self.beta * speed
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        return self._x.copy()

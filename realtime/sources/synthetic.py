"""A synthetic camera: a bundled face photo animated like a person in front of a webcam.

It lets the whole app (and its tests and benchmarks) run with no camera: smooth head motion
(translation, roll, scale), a slow lighting change and sensor noise over a neutral
background. Every frame is a pure function of (seed, index), so runs are reproducible.
Everything that does not change per frame is precomputed; at 1280x720 a frame costs a few
milliseconds (one warp and blend of the face region, a LUT, two saturating adds of a noise bank).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from realtime.errors import ConfigError, SourceError
from realtime.images import load_image, to_bgr8
from realtime.sources.base import Captured
from realtime.sources.video import Pacer

log = logging.getLogger(__name__)

DEFAULT_FACE = "grace_hopper.jpg"

# Full-scale amplitudes at motion=1: a person shifting in their chair, not a bobblehead.
_AMP_X = 0.08  # of the frame width
_AMP_Y = 0.05  # of the frame height
_AMP_ANGLE = 10.0  # degrees of roll
_AMP_SCALE = 0.08  # relative size (leaning in and out)
_AMP_LIGHT = 0.12  # relative brightness
_FACE_HEIGHT = 0.8  # sprite height as a fraction of the frame height (face ~ a third)
_BACKGROUND = (118, 122, 126)  # BGR, a neutral wall
# Width of the bundled photo's face box (FaceAnalyzer.analyze_image) over the photo's width.
_DEFAULT_FACE_IN_PHOTO = 0.365


def default_face() -> np.ndarray:
    """The bundled demo photo (public domain: Grace Hopper, US Navy), as BGR uint8."""
    ref = resources.files("realtime").joinpath("assets", "faces", DEFAULT_FACE)
    with resources.as_file(ref) as path:
        return load_image(path)


class Pose(NamedTuple):
    """The animation state of one frame: offset in pixels, roll in degrees, scale, light gain."""

    dx: float
    dy: float
    angle: float
    scale: float
    gain: float


class SyntheticSource:
    """Frames of an animated face photo; ``live`` paces them to ``fps``, otherwise as fast as
    read. ``duration`` (seconds) ends the stream; ``None`` runs forever."""

    name = "synthetic"

    def __init__(
        self,
        face: np.ndarray | str | Path | None = None,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        seed: int = 0,
        live: bool = True,
        motion: float = 1.0,
        noise: float = 3.0,
        duration: float | None = None,
        faces: int = 1,
        precompute: int = 0,
        face_scale: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if width < 16 or height < 16:
            raise ConfigError(f"synthetic size {width}x{height} is too small", fix="use at least 16x16")
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}", fix="pass --fps 30")
        if motion < 0 or noise < 0:
            raise ConfigError("motion and noise must be >= 0", fix="use 0 to turn them off")
        self.width = int(width)
        self.height = int(height)
        self.fps = float(fps)
        self.seed = int(seed)
        self.live = bool(live)
        self.motion = float(motion)
        self.noise = float(noise)
        self.duration = duration
        if faces < 1:
            raise ConfigError(f"faces must be at least 1, got {faces}", fix="e.g. --faces 2")
        self.faces = int(faces)
        if not 0.05 <= face_scale <= 4.0:
            raise ConfigError(f"face_scale must be within [0.05, 4], got {face_scale}", fix="e.g. 0.3")
        # Relative size of each person (1: the default framing), for small, distant faces.
        self.face_scale = float(face_scale)
        # Benchmarks: render this many frames once and play them back and forth, so the
        # camera costs what a real one does (a copy), not a render per frame.
        self.precompute = max(0, int(precompute))
        self._bank: list[np.ndarray] = []
        self._face_in = face
        self._pacer = Pacer(clock=clock, sleep=sleep)
        self._index = 0
        self._opened = False
        self._ready = False
        rng = np.random.default_rng(self.seed)
        # Five smooth signals (x, y, angle, scale, light), each a sum of three sines with
        # incommensurate frequencies, so the motion never visibly repeats.
        self._freq = rng.uniform(0.05, 0.45, size=(5, 3))
        self._phase = rng.uniform(0.0, 2 * math.pi, size=(5, 3))
        weights = rng.uniform(0.5, 1.0, size=(5, 3))
        self._weight = weights / weights.sum(axis=1, keepdims=True)
        self._noise_key = int(rng.integers(1, 2**31 - 1))

    @classmethod
    def from_spec(cls, target: str, **options: Any) -> SyntheticSource:
        """Registry entry: ``target`` is an optional face photo path ("" for the bundled one)."""
        return cls(face=target or None, **options)

    def _sprite_dims(self, photo_w: int, photo_h: int) -> tuple[int, int]:
        """(width, height) of each person's sprite for a photo of that size."""
        sh = max(8, round(self.height * _FACE_HEIGHT))
        sw = max(8, round(photo_w * sh / photo_h))
        if self.faces > 1:  # several people side by side: shrink each to its share of the width
            k = min(1.0, 0.9 * self.width / self.faces / sw)
            sh, sw = max(8, round(sh * k)), max(8, round(sw * k))
        return max(8, round(sw * self.face_scale)), max(8, round(sh * self.face_scale))

    # -- precomputation -------------------------------------------------------------------
    def _prepare(self) -> None:
        if self._ready:
            return
        face_in = self._face_in
        if face_in is None:
            face = default_face()
        elif isinstance(face_in, np.ndarray):
            face = to_bgr8(face_in)
        else:
            face = load_image(face_in)
        h, w = self.height, self.width
        sw, sh = self._sprite_dims(face.shape[1], face.shape[0])
        sprite = cv2.resize(face, (sw, sh), interpolation=cv2.INTER_AREA)
        # A feathered oval cut-out: head and shoulders, no hard rectangle edge to track.
        mask: np.ndarray = np.zeros((sh, sw), np.uint8)
        cv2.ellipse(mask, (sw // 2, sh // 2), (int(sw * 0.44), int(sh * 0.47)), 0, 0, 360, 255, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=max(1.0, sh * 0.03))
        self._sprite = np.ascontiguousarray(np.dstack([sprite, mask]))  # BGRA uint8
        self._sprite_size = (sw, sh)
        ramp = np.linspace(1.08, 0.9, h, dtype=np.float32)[:, None, None]
        bg = np.broadcast_to(np.array(_BACKGROUND, np.float32) * ramp, (h, w, 3))
        self._background = np.ascontiguousarray(np.clip(bg, 0, 255).astype(np.uint8))
        n = h * w * 3
        if self.noise > 0:
            # One bank of Gaussian noise, longer than a frame; each frame takes a window at a
            # different offset. Split by sign so that two saturating cv2 adds apply it.
            self._bank_extra = max(4096, n // 4)
            bank_rng = np.random.default_rng(self.seed + 1)
            values = bank_rng.normal(0.0, self.noise, size=n + self._bank_extra)
            values = np.clip(np.rint(values), -255, 255).astype(np.int16)
            self._noise_pos = np.clip(values, 0, 255).astype(np.uint8)
            self._noise_neg = np.clip(-values, 0, 255).astype(np.uint8)
        self._ready = True

    def face_width(self) -> float | None:
        """The width of each face as a fraction of the frame's width, at rest (pose scale 1):
        known for the bundled photo only (None for another one)."""
        if self._face_in is not None:
            return None
        photo = default_face()
        return _DEFAULT_FACE_IN_PHOTO * self._sprite_dims(photo.shape[1], photo.shape[0])[0] / self.width

    # -- rendering ------------------------------------------------------------------------
    def pose(self, index: int) -> Pose:
        """The head pose and light of frame ``index`` (deterministic for the seed)."""
        t = index / self.fps
        s = np.sin(2 * math.pi * self._freq * t + self._phase)
        v = (self._weight * s).sum(axis=1) * self.motion
        return Pose(
            dx=float(v[0] * _AMP_X * self.width),
            dy=float(v[1] * _AMP_Y * self.height),
            angle=float(v[2] * _AMP_ANGLE),
            scale=float(1.0 + v[3] * _AMP_SCALE),
            gain=float(1.0 + v[4] * _AMP_LIGHT),
        )

    def face_center(self, index: int, face: int = 0) -> tuple[float, float]:
        """Where the centre of face photo ``face`` lands in frame ``index``, in pixels."""
        p = self.pose(index)
        slot = self.width / self.faces
        return slot * (face + 0.5) + p.dx / self.faces, self.height / 2 + p.dy

    def _draw_face(self, frame: np.ndarray, p: Pose, cx: float, cy: float) -> None:
        """Blend the feathered face sprite into ``frame`` at (cx, cy) with pose ``p``."""
        sw, sh = self._sprite_size
        m = cv2.getRotationMatrix2D((sw / 2, sh / 2), p.angle, p.scale)
        m[0, 2] += cx - sw / 2
        m[1, 2] += cy - sh / 2
        corners = np.array([[0, 0, 1], [sw, 0, 1], [0, sh, 1], [sw, sh, 1]], np.float64) @ m.T
        x0 = max(0, math.floor(corners[:, 0].min()))
        y0 = max(0, math.floor(corners[:, 1].min()))
        x1 = min(self.width, math.ceil(corners[:, 0].max()) + 1)
        y1 = min(self.height, math.ceil(corners[:, 1].max()) + 1)
        if x1 > x0 and y1 > y0:
            m[0, 2] -= x0
            m[1, 2] -= y0
            warped = cv2.warpAffine(
                self._sprite,
                m,
                (x1 - x0, y1 - y0),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0, 0, 0, 0),
            )
            roi = frame[y0:y1, x0:x1]
            alpha = warped[:, :, 3].astype(np.float32) * (1.0 / 255.0)
            face = cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR)
            roi[...] = cv2.blendLinear(face, np.ascontiguousarray(roi), alpha, 1.0 - alpha)

    def render(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new HxWx3 uint8 BGR array."""
        self._prepare()
        p = self.pose(index)
        frame = self._background.copy()
        for k in range(self.faces):
            self._draw_face(frame, p, *self.face_center(index, k))
        if abs(p.gain - 1.0) > 1e-6:
            lut = np.clip(np.arange(256, dtype=np.float32) * p.gain + 0.5, 0, 255).astype(np.uint8)
            cv2.LUT(frame, lut, dst=frame)
        if self.noise > 0:
            n = frame.size
            off = (index * 2654435761 + self._noise_key) % self._bank_extra
            shape = frame.shape
            cv2.add(frame, self._noise_pos[off : off + n].reshape(shape), dst=frame)
            cv2.subtract(frame, self._noise_neg[off : off + n].reshape(shape), dst=frame)
        return frame

    def frames(self, n: int, start: int = 0) -> list[np.ndarray]:
        """``n`` consecutive frames without pacing (for tests and benchmarks)."""
        return [self.render(i) for i in range(start, start + n)]

    # -- Source protocol ------------------------------------------------------------------
    @property
    def total_frames(self) -> int | None:
        return None if self.duration is None else max(0, round(self.duration * self.fps))

    def open(self) -> None:
        self._prepare()
        if self.precompute and not self._bank:
            self._bank = [self.render(i) for i in range(self.precompute)]
        self._index = 0
        self._pacer.reset()
        self._opened = True
        log.info(
            "synthetic camera %dx%d at %.3g fps (seed %d, motion %.2g, noise %.2g)",
            self.width,
            self.height,
            self.fps,
            self.seed,
            self.motion,
            self.noise,
        )

    def read(self) -> Captured | None:
        if not self._opened:
            raise SourceError("synthetic source is not open", fix="call open() first")
        total = self.total_frames
        if total is not None and self._index >= total:
            return None
        i = self._index
        pts = i / self.fps
        if self.live:
            self._pacer.wait(pts)
        self._index += 1
        if self._bank:
            n = len(self._bank)
            k = i % (2 * n - 2) if n > 1 else 0  # ping-pong: no jump at the loop point
            return Captured(self._bank[k if k < n else 2 * n - 2 - k], pts)
        return Captured(self.render(i), pts)

    def close(self) -> None:
        self._opened = False

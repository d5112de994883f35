"""Run a slow processor (e.g. an enhancer on a CPU) on every Nth frame only.

On the frames in between, the last result is reused *for the face region*: the processed
pixels inside each face's box (padded) are stored, and re-applied to the same face in later
frames, scaled and moved to where that face now is, through a feathered mask. Faces are matched
by track id when the tracker set one, else by the nearest box centre. A face with no stored
result (it just appeared) triggers a fresh run at once rather than being shown untouched.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.frame import Face, Frame
from realtime.processor import Processor, is_thread_safe


@dataclass(frozen=True)
class _Patch:
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in the frame it was cut from
    pixels: np.ndarray  # processed pixels of that box
    centre: tuple[float, float]
    track_id: int


def _padded_box(face: Face, pad: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in face.box)
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    return (
        max(int(np.floor(x1 - px)), 0),
        max(int(np.floor(y1 - py)), 0),
        min(int(np.ceil(x2 + px)), w),
        min(int(np.ceil(y2 + py)), h),
    )


def _feather(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    bh, bw = max(h // 10, 1), max(w // 10, 1)
    m[bh : h - bh, bw : w - bw] = 1.0
    return cv2.GaussianBlur(m, (0, 0), max(min(bh, bw) / 2, 0.5))[..., None]


class EveryNth:
    """Wraps ``processor`` so it runs on 1 frame in ``n``; keeps the wrapped processor's name.

    The count and the stored results are shared by every worker that calls this object, so
    they change under a lock: under concurrency exactly one call in ``n`` is due. It is as
    thread-safe as the processor it wraps (``thread_safe`` is copied from it); the wrapped
    processor runs outside the lock.
    """

    thread_safe: bool

    def __init__(self, processor: Processor, n: int, pad: float = 0.25) -> None:
        if n < 1:
            raise ValueError(f"EveryNth needs n >= 1, got {n}")
        self.processor = processor
        self.n = n
        self.pad = pad
        self.name = processor.name
        self.thread_safe = is_thread_safe(processor)
        self._lock = threading.Lock()
        self._count = 0
        self._patches: tuple[_Patch, ...] = ()

    def set_every(self, n: int) -> None:
        """Run on 1 frame in ``n`` from now on (thread-safe: the panel changes it live)."""
        if n < 1:
            raise ValueError(f"EveryNth needs n >= 1, got {n}")
        with self._lock:
            self.n = n
            self._count = 0  # the next frame runs

    def __call__(self, frame: Frame) -> Frame:
        with self._lock:
            due = self._count % self.n == 0
            self._count += 1
        if not frame.faces:
            return frame
        if not due:
            reused = self._reuse(frame)
            if reused is not None:
                return reused
        return self._run(frame)

    def _run(self, frame: Frame) -> Frame:
        out = self.processor(frame)
        patches = []
        for face in out.faces:
            x1, y1, x2, y2 = _padded_box(face, self.pad, out.image.shape)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            patches.append(
                _Patch((x1, y1, x2, y2), out.image[y1:y2, x1:x2].copy(), face.center, face.track_id)
            )
        with self._lock:
            self._patches = tuple(patches)
        return out

    @staticmethod
    def _match(face: Face, patches: tuple[_Patch, ...]) -> _Patch | None:
        if face.track_id >= 0:
            for p in patches:
                if p.track_id == face.track_id:
                    return p
        if not patches:
            return None
        cx, cy = face.center
        best = min(patches, key=lambda p: (p.centre[0] - cx) ** 2 + (p.centre[1] - cy) ** 2)
        limit = max(face.width, face.height)
        if (best.centre[0] - cx) ** 2 + (best.centre[1] - cy) ** 2 > limit**2:
            return None
        return best

    def _reuse(self, frame: Frame) -> Frame | None:
        """The frame with stored results re-applied, or None when a face has none."""
        with self._lock:
            patches = self._patches  # one run's results for the whole frame
        image = frame.image.copy()
        for face in frame.faces:
            patch = self._match(face, patches)
            if patch is None:
                return None
            x1, y1, x2, y2 = _padded_box(face, self.pad, image.shape)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            pixels = cv2.resize(patch.pixels, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
            mask = _feather(y2 - y1, x2 - x1)
            region = image[y1:y2, x1:x2].astype(np.float32)
            image[y1:y2, x1:x2] = np.rint(region + mask * (pixels.astype(np.float32) - region)).astype(
                np.uint8
            )
        return frame.with_image(image)

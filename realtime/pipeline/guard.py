"""Fail closed: once a face has been swapped, no frame shows it unswapped on any output.

A swap misses for many reasons: the tracker loses a face that turns away or jumps, the
swapper raises (the runner passes the frame through so the stream goes on), a remote server
is lost, or processing is paused. The ``OutputGuard`` sees every frame after the chain, just
before the outputs, and decides what goes out:

- ``pass``: the frame as it is (the behaviour before this guard; file jobs by default);
- ``hold``: the last fully swapped frame again, for up to ``hold_s``; then as ``blur``;
- ``blur``: the frame pixelated where a face is or was last seen, or entirely when no face is
  known in it (a lost track: the face may be anywhere).

Before the first swap the outputs get a neutral frame (not the camera), and a pause freezes on
the last swapped frame. The panel's raw "before" view taps the capture, not the outputs, so
it still shows the camera. Counts of frames held, blurred and neutral are in ``report``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import cv2
import numpy as np

from realtime.frame import SWAP_MISSED, Frame

log = logging.getLogger(__name__)

POLICIES = ("hold", "blur", "pass")
PAUSED = "passthrough"  # set by the pipeline on frames that skipped the chain (paused)
GUARDED = "guarded"  # set on a frame this guard replaced or changed
NEUTRAL_BGR = (58, 52, 48)
_PAD = 0.35  # a blurred box grows by this fraction of its size on each side
_BLOCKS = 10  # a face box pixelated to about this many blocks across
_FRAME_BLOCKS = 24  # the whole frame pixelated to this many blocks across


def pixelate(image: np.ndarray, blocks: int) -> np.ndarray:
    """``image`` as coarse blocks (``blocks`` across): no face survives at that size."""
    h, w = image.shape[:2]
    bw = max(1, min(w, blocks))
    bh = max(1, min(h, round(blocks * h / max(w, 1))))
    small = cv2.resize(image, (bw, bh), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def neutral_image(shape: tuple[int, ...], text: str) -> np.ndarray:
    """A plain dark frame with one line of text: what goes out before the first swap."""
    h, w = shape[:2]
    img = np.empty((h, w, 3), np.uint8)
    img[...] = NEUTRAL_BGR
    scale = max(0.4, w / 1280)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    org = (max(4, (w - tw) // 2), (h + th) // 2)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (200, 200, 200), 2, cv2.LINE_AA)
    return img


def _padded(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    px, py = (x2 - x1) * _PAD, (y2 - y1) * _PAD
    return (
        max(int(x1 - px), 0),
        max(int(y1 - py), 0),
        min(int(np.ceil(x2 + px)), w),
        min(int(np.ceil(y2 + py)), h),
    )


class OutputGuard:
    """Called by the output thread on each frame before the outputs (one thread: no lock for
    the frame state); ``report`` is read by other threads (the status line, the panel)."""

    thread_safe = False  # it keeps the last swapped frame: one caller, in frame order

    def __init__(self, policy: str, hold_s: float = 1.0, report: dict[str, Any] | None = None) -> None:
        self.policy = policy
        self.hold_s = hold_s
        self.report = report if report is not None else {}
        self._lock = threading.Lock()
        self._good: np.ndarray | None = None  # the last fully swapped image (our own copy)
        self._last_boxes: list[np.ndarray] = []  # where faces were last seen
        self._miss_since: float | None = None
        self.counts = {"held": 0, "blurred": 0, "neutral": 0, "frozen": 0}
        self.state = "waiting" if policy != "pass" else "pass"
        self._publish()

    @property
    def armed(self) -> bool:
        return self._good is not None

    def _publish(self) -> None:
        with self._lock:
            self.report["on_miss"] = {"policy": self.policy, "state": self.state, **self.counts}

    def _count(self, what: str, state: str) -> None:
        self.counts[what] += 1
        self.state = state
        self._publish()

    def _keep(self, image: np.ndarray) -> None:
        # A new array each time: the frame's image may be a ring slot (reused later), and an
        # output may still be writing the previous held image on its own thread.
        self._good = image.copy()

    def __call__(self, frame: Frame) -> Frame:
        if self.policy == "pass":
            return frame
        paused = PAUSED in frame.flags
        boxes = [f.box for f in frame.faces] if not paused else []
        # ``swapped`` is set by a swapper only when it returned: a swapper that raised leaves
        # 0 (the runner passed the frame through); one that skipped a face it chose says so.
        good = frame.swapped > 0 and not paused and SWAP_MISSED not in frame.flags
        if good:
            self._keep(frame.image)
            self._last_boxes = boxes
            self._miss_since = None
            if self.state != "live":
                if self.state != "waiting":
                    log.info("on-miss: the swap is back; frames go out again")
                self.state = "live"
                self._publish()
            return frame
        good_image = self._good
        if good_image is None:
            self._count("neutral", "waiting")
            text = "paused" if paused else "waiting for a face"
            return frame.with_image(neutral_image(frame.image.shape, text)).with_flag(GUARDED)
        if paused:
            self._count("frozen", "frozen")
            return frame.with_image(good_image).with_flag(GUARDED)
        now = frame.pts  # media time: a file job holds one second of the video, not of the CPU
        if self._miss_since is None:
            self._miss_since = now
            log.info("on-miss %s: a face went unswapped (frame %d)", self.policy, frame.index)
        if self.policy == "hold" and now - self._miss_since <= self.hold_s:
            self._count("held", "holding")
            return frame.with_image(good_image).with_flag(GUARDED)
        self._count("blurred", "blurred")
        return frame.with_image(self._blur(frame, boxes)).with_flag(GUARDED)

    def _blur(self, frame: Frame, boxes: list[np.ndarray]) -> np.ndarray:
        """Pixelate where a face is or was last seen; the whole frame when no face is known in
        this frame (lost or unanalysed: it may have moved anywhere)."""
        image = frame.image
        if not boxes:
            return pixelate(image, _FRAME_BLOCKS)
        out = image.copy()
        for box in [*boxes, *self._last_boxes]:
            x1, y1, x2, y2 = _padded(box, image.shape)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            out[y1:y2, x1:x2] = pixelate(np.ascontiguousarray(out[y1:y2, x1:x2]), _BLOCKS)
        if boxes:
            self._last_boxes = boxes
        return out


def set_policy(pipeline: Any, policy: str, report: dict[str, Any]) -> dict[str, Any]:
    """Change what a running pipeline does on a miss (the panel): the guard in place keeps its
    last swapped frame; with none yet (the run started with ``pass``), one is put in."""
    guard = pipeline.output_filter
    if isinstance(guard, OutputGuard):
        guard.policy = policy
        if policy == "pass":
            guard.state = "pass"
        guard._publish()
    else:
        pipeline.output_filter = guard = OutputGuard(policy, report=report)
    log.info("on-miss policy: %s", policy)
    return dict(report.get("on_miss", {}))

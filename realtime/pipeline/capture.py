"""The capture thread: read the source, keep one frame size, and publish into the first ring.

A live source that fails is reopened with backoff while the output shows the last good frame
marked "camera lost"; a file source fails for real.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from realtime.frame import Frame
from realtime.pipeline.ring import Ring, RingClosed
from realtime.pipeline.stats import Stats
from realtime.sources.base import Captured, Source

log = logging.getLogger(__name__)


class Capturing:
    """The pipeline's capture stage (a part of ``Pipeline``)."""

    source: Source
    stats: Stats
    live: bool
    lost_source: bool
    source_ended: bool
    ring_in: Ring
    t0: float
    on_capture: Callable[[Frame], None] | None
    _size: tuple[int, int]
    _resize_warned: bool
    _stop: threading.Event
    _busy_since: dict[str, float | None]

    def _read_source(self) -> Captured | None:
        """The next frame. A live source that fails is reopened with backoff while the
        output shows the last good frame marked "camera lost"; files fail for real."""
        delay = 0.25
        while not self._stop.is_set():
            try:
                self._busy_since["capture"] = time.monotonic()
                got = self.source.read()
                if self.lost_source:
                    log.warning("source %s is back", self.source.name)
                    self.lost_source = False
                return got
            except Exception as exc:
                if not self.live:
                    raise
                if not self.lost_source:
                    log.error("source %s lost (%s); reconnecting", self.source.name, exc)
                    self.stats.error("source")
                self.lost_source = True
            finally:
                self._busy_since["capture"] = None
            while not self._stop.wait(delay):
                delay = min(delay * 2, 4.0)
                try:
                    self.source.close()
                    self.source.open()
                    delay = 0.25
                    break
                except Exception as exc:
                    log.debug("reopening %s failed: %r", self.source.name, exc)
        return None

    def _capture_loop(self) -> None:
        index = self.stats.captured
        size = self._size
        while not self._stop.is_set():
            t_read = time.monotonic()
            got = self._read_source()
            if got is None:
                if not self._stop.is_set():
                    self.source_ended = True
                    log.info("source %s ended", self.source.name)
                self.ring_in.close()
                return
            now = time.monotonic()
            # A live read mostly waits for the camera; a file read is decoding work.
            work = 0.0 if self.live else now - t_read
            image = got.image
            if size[0] and (image.shape[0], image.shape[1]) != size:
                # A camera that changes size mid-stream (or ignores the request): keep the
                # whole pipeline, and the sinks opened at the first size, consistent.
                if not self._resize_warned:
                    log.warning(
                        "source delivers %dx%d, the outputs were opened at %dx%d; resizing",
                        image.shape[1],
                        image.shape[0],
                        size[1],
                        size[0],
                    )
                    self._resize_warned = True
                image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            work += time.monotonic() - now
            try:
                slot = None
                while slot is None:
                    slot = self.ring_in.acquire(timeout=0.2)
                    if self._stop.is_set():
                        if slot is not None:
                            self.ring_in.abandon(slot)
                        return
            except RingClosed:
                return
            t_copy = time.monotonic()
            buf = slot.buffer(image.shape)
            np.copyto(buf, image)
            pts = got.pts if got.pts is not None else now - self.t0
            frame = Frame(index=index, captured_at=now, image=buf, pts=pts)
            self.stats.captured_one(now)
            self.stats.stage("capture", (work + time.monotonic() - t_copy) * 1000.0)
            if self.on_capture is not None:
                self.on_capture(frame)
            index += 1
            self.ring_in.publish(slot, frame)

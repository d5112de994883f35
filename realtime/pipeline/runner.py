"""Running the processor chain on one frame, and the frame shown while the source is away.

A processor may fail, raise anything (even ``SystemExit``) or return something that is not a
``Frame``: the frame then passes through unprocessed, the failure is logged once with a count,
and a processor that keeps failing is reset. A processor never ends the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import cv2
import numpy as np

from realtime.frame import Frame
from realtime.pipeline.stats import Stats
from realtime.processor import Processor

log = logging.getLogger(__name__)


# Set on a frame whose image the processing worker owns exclusively (see ``Frame.flags``).
WRITABLE = "writable"


def lost_frame(frame: Frame, text: str = "camera lost - reconnecting") -> Frame:
    """The last good frame, dimmed and marked, shown while the source is away."""
    img = (frame.image // 3).astype(np.uint8)
    h, w = img.shape[:2]
    scale = max(0.5, w / 1280)
    cv2.putText(
        img,
        text,
        (int(24 * scale), int(h / 2)),
        cv2.FONT_HERSHEY_SIMPLEX,
        1.2 * scale,
        (255, 255, 255),
        max(1, int(2 * scale)),
        cv2.LINE_AA,
    )
    return frame.with_image(img).with_flag("source_lost")


class ProcessorRunner:
    """Runs the processor chain on one frame; a failing processor passes the frame through."""

    def __init__(self, processors: Sequence[Processor], stats: Stats, failure_reset: int = 10) -> None:
        self.processors = list(processors)
        self.stats = stats
        self._consecutive: dict[str, int] = {}
        self._failure_reset = failure_reset

    def __call__(self, frame: Frame, processors: Sequence[Processor] | None = None) -> Frame:
        for proc in self.processors if processors is None else processors:
            name = getattr(proc, "name", type(proc).__name__)
            t0 = time.perf_counter()
            try:
                out = proc(frame)
                if not isinstance(out, Frame):
                    raise TypeError(f"{name} returned {type(out).__name__}, not a Frame")
            except (Exception, SystemExit, KeyboardInterrupt) as exc:
                # A processor may not end the run, whatever it raises: the frame passes through.
                count = self.stats.error(name)
                if count == 1 or count % 100 == 0:
                    log.error(
                        "%s failed on frame %d (%d so far); passing it through: %r",
                        name,
                        frame.index,
                        count,
                        exc,
                        exc_info=count == 1 and log.isEnabledFor(logging.DEBUG),
                    )
                fails = self._consecutive.get(name, 0) + 1
                self._consecutive[name] = fails
                reset = getattr(proc, "reset", None)
                if fails >= self._failure_reset and callable(reset):
                    log.warning("%s failed %d frames in a row; restarting it", name, fails)
                    self._consecutive[name] = 0
                    try:
                        reset()
                    except Exception as rexc:
                        log.error("%s could not restart: %r", name, rexc)
                frame = frame.with_flag(f"failed:{name}")
                continue
            self._consecutive[name] = 0
            ms = (time.perf_counter() - t0) * 1000.0
            self.stats.stage(name, ms)
            frame = out.with_timing(name, ms)
        return frame

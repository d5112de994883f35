"""Small in-memory sources, sinks and processors for pipeline tests."""

from __future__ import annotations

import threading
import time

import numpy as np

from realtime.frame import Frame
from realtime.sinks.base import SinkBase, SinkContext
from realtime.sources.base import Captured


class CountingSource:
    """Frames whose pixels encode their number; paced to ``fps`` when live."""

    name = "counting"

    def __init__(self, n: int | None = None, fps: float = 30.0, live: bool = True, size=(48, 64)) -> None:
        self.n, self.fps, self.live = n, fps, live
        self.height, self.width = size
        self.i = 0
        self.closed = 0
        self._next = 0.0

    def open(self) -> None:
        self._next = time.monotonic()

    def read(self) -> Captured | None:
        if self.n is not None and self.i >= self.n:
            return None
        if self.live:
            delay = self._next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next += 1.0 / self.fps
        img = np.full((self.height, self.width, 3), self.i % 256, np.uint8)
        self.i += 1
        return Captured(img, None)

    def close(self) -> None:
        self.closed += 1


class RecordingSink(SinkBase):
    name = "recording"
    steady = False

    def __init__(self, fail_after: int | None = None) -> None:
        self.frames: list[tuple[int, int, float]] = []
        self.opened = 0
        self.closed = 0
        self.fail_after = fail_after
        self.lock = threading.Lock()

    def open(self, ctx: SinkContext) -> None:
        self.opened += 1
        self.ctx = ctx

    def write(self, frame: Frame) -> None:
        if self.fail_after is not None and len(self.frames) >= self.fail_after:
            raise OSError(28, "No space left on device")
        with self.lock:
            self.frames.append((frame.index, int(frame.image[0, 0, 0]), time.monotonic()))

    def close(self) -> None:
        self.closed += 1


class SleepProcessor:
    name = "sleep"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, frame: Frame) -> Frame:
        time.sleep(self.seconds)
        return frame.with_image(255 - frame.image)


class FailingProcessor:
    name = "flaky"

    def __init__(self, every: int) -> None:
        self.every = every
        self.resets = 0

    def __call__(self, frame: Frame) -> Frame:
        if frame.index % self.every == 0:
            raise RuntimeError(f"bad frame {frame.index}")
        return frame

    def reset(self) -> None:
        self.resets += 1


class FlakySource(CountingSource):
    """A camera that vanishes after ``fail_after`` frames and refuses ``down_opens`` reopens;
    optionally switches to another frame size after ``resize_after`` frames."""

    name = "flaky"

    def __init__(
        self, fail_after: int | None = None, down_opens: int = 2, resize_after: int | None = None, **kw
    ) -> None:
        super().__init__(**kw)
        self.fail_after, self.down_opens, self.resize_after = fail_after, down_opens, resize_after
        self.opens = 0
        self.failed = False

    def open(self) -> None:
        self.opens += 1
        if self.failed and self.down_opens > 0:
            self.down_opens -= 1
            raise OSError("device unplugged")
        self.failed = False
        super().open()

    def read(self) -> Captured | None:
        if self.fail_after is not None and self.i == self.fail_after and not self.failed and self.opens == 1:
            self.failed = True
            raise OSError("select() timeout")
        got = super().read()
        if got is not None and self.resize_after is not None and self.i > self.resize_after:
            return Captured(np.full((self.height * 2, self.width * 2, 3), got.image[0, 0, 0], np.uint8))
        return got


class SteadySink(RecordingSink):
    steady = True

    def __init__(self) -> None:
        super().__init__()
        self.lost_frames = 0

    def write(self, frame: Frame) -> None:
        super().write(frame)
        if "source_lost" in frame.flags:
            self.lost_frames += 1

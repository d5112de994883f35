"""A recording's timeline: the presentation time of each frame, in 90 kHz ticks, strictly
increasing. A live recording's timeline is its frames' capture times (variable frame rate,
like the stream really was: a source's own timestamps may restart or lie); a file job keeps
the input's timestamps; a constant ``fps`` may be asked for instead."""

from __future__ import annotations

from fractions import Fraction

from realtime.frame import Frame

TIME_BASE = Fraction(1, 90000)  # the MPEG clock: fine enough for any frame rate


class Timeline:
    def __init__(self, fps: float | None, keep_pts: bool) -> None:
        self.fps = fps
        self.keep_pts = keep_pts
        self.tick = -1  # the last tick handed out
        self.count = 0
        self._prev: tuple[float, float] | None = None  # (pts, captured_at) of the last frame
        self._t0: float | None = None  # capture time of the first frame (live timeline)

    def next(self, frame: Frame) -> int:
        """The tick of ``frame``: after every tick before it."""
        if self.fps:
            tick = round(self.count / float(self.fps) / TIME_BASE)
        elif not self.keep_pts:
            # Live: when each frame was really captured. A stream's own clock may restart
            # after a reconnect or run at a rate it does not have.
            if self._t0 is None:
                self._t0 = frame.captured_at
            tick = round(max(frame.captured_at - self._t0, 0.0) / TIME_BASE)
        elif self._prev is None:
            tick = round(max(frame.pts, 0.0) / TIME_BASE)
        else:
            prev_pts, prev_cap = self._prev
            step = frame.pts - prev_pts if frame.pts > prev_pts else frame.captured_at - prev_cap
            tick = self.tick + round(max(step, 0.0) / TIME_BASE)
        self._prev = (frame.pts, frame.captured_at)
        self.tick = max(tick, self.tick + 1)
        self.count += 1
        return self.tick

    @property
    def seconds(self) -> float:
        return float(max(self.tick, 0) * TIME_BASE)

"""The output thread: pace frames to the fps and hand them to the fan-out of sinks.

Live, the last frame is kept to show again while the source stalls or is lost (marked
"camera lost"); with one output the frame's ring slot is handed over without a copy, with
several each output gets a copy and the slot is free at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from realtime.frame import Frame
from realtime.pipeline.fanout import Fanout
from realtime.pipeline.ring import Lease, Ring
from realtime.pipeline.runner import lost_frame
from realtime.pipeline.stats import Stats


class Outputting:
    """The pipeline's output stage (a part of ``Pipeline``)."""

    stats: Stats
    live: bool
    lost_source: bool
    rings: list[Ring]
    ring_out: Ring
    fanout: Fanout
    _fps: float
    _stop: threading.Event
    _on_output: Callable[[Frame], None] | None
    output_filter: Callable[[Frame], Frame] | None

    def _output_loop(self) -> None:
        period = 1.0 / self._fps
        last_write = 0.0
        # Live: the last frame is kept to show again while the source stalls or is lost.
        held: Frame | None = None
        held_lease: Lease | None = None  # its slot, when it was not copied
        try:
            while True:
                if self._stop.is_set():
                    return
                lease = self.ring_out.get(timeout=min(max(period, 0.005), 0.1))
                if lease is None:
                    if self.ring_out.closed and self.ring_out.waiting == 0:
                        return
                    if held is not None and time.monotonic() - last_write > 2 * period:
                        shown = lost_frame(held) if self.lost_source else held
                        self.fanout.wait_done(self.fanout.put(shown, self._stop, steady_only=True))
                        self.stats.repeated += 1
                        last_write = time.monotonic()
                    continue
                if self.live:  # pace: never faster than the target fps
                    wait = last_write + 0.9 * period - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                t0 = time.monotonic()
                frame = lease.frame
                if self.output_filter is not None:
                    frame = self.output_filter(frame)
                if len(self.fanout.feeders) > 1:
                    # Several outputs, each at its own pace on its own thread: they get a copy
                    # of a ring slot's image, and the slot is free again at once.
                    if any(r.owns_buffer(frame.image) for r in self.rings):
                        frame = frame.with_image(frame.image.copy())
                    lease.release()
                    lease = None
                tickets = self.fanout.put(frame, self._stop)
                if lease is not None:
                    # One output: nothing to keep apart from, so no copy. The slot stays ours
                    # until that output is done with it (and, live, until the next frame, to
                    # show it again if the source stalls).
                    self.fanout.wait_done(tickets)
                    if not self.live:
                        lease.release()
                        lease = None
                if self._on_output is not None:
                    self._on_output(frame)
                if held_lease is not None:
                    held_lease.release()
                held, held_lease = (frame, lease) if self.live else (None, None)
                now = time.monotonic()
                self.stats.stage("output", (now - t0) * 1000.0)
                self.stats.output_one(frame.captured_at, now, len(frame.faces), frame.swapped)
                last_write = now
        finally:
            if held_lease is not None:
                held_lease.release()
            self.fanout.finish()

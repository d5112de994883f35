"""A sink that keeps nothing: for benchmarks, soak runs and tests of the pipeline itself."""

from __future__ import annotations

import threading

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.base import SinkBase, SinkContext


class NullSink(SinkBase):
    """Counts the frames it is given and remembers the last index and format."""

    name = "null"
    steady = False
    retry = False

    def __init__(self) -> None:
        self.frames = 0
        self.last_index: int | None = None
        self.context: SinkContext | None = None
        self.closed = False
        self._lock = threading.Lock()  # counts are read by other threads (stats, tests)

    def open(self, ctx: SinkContext) -> None:
        self.context = ctx
        self.closed = False

    def write(self, frame: Frame) -> None:
        if self.context is None or self.closed:
            raise SinkError("null sink written before open()", fix="call open(ctx) first")
        with self._lock:
            self.frames += 1
            self.last_index = frame.index

    def close(self) -> None:
        self.closed = True

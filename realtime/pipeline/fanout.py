"""The output fan-out: every sink on its own thread, so one slow or stuck output never holds up
the others, and every call a sink gets (``open``, ``write``, ``close``) comes from that one
thread (HighGUI, for one, must be driven from a single thread).

A live stream hands each sink the newest frame (a sink that cannot keep up skips frames,
counted per sink), except a recording: it gets every frame in order and keeps its own deep
queue in front of its encoder (``realtime.sinks.file``), so what it skips it counts itself, as
its own skips. A file job hands frames over in order and waits for room, so nothing is
dropped. A sink that owns a file runs on a non-daemon thread and is always finalised: the
pipeline waits for it however long the encoder needs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.base import Sink, SinkContext

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class OutputReport:
    """How one output ended: the frames it got, what it skipped, and why it failed, if it did."""

    name: str
    written: int = 0
    skipped: int = 0
    error: BaseException | None = None
    path: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def owns_file(sink: Sink) -> bool:
    """A sink whose output is a file the user keeps: it must be finalised, never abandoned."""
    return sink.path is not None


class SinkFeeder:
    """One sink, its thread, and the hand-over between the output thread and it."""

    def __init__(
        self,
        sink: Sink,
        ctx_factory: Callable[[], SinkContext],
        *,
        live: bool,
        retry_s: float,
        on_error: Callable[[SinkFeeder, BaseException], None],
        queue_size: int = 8,
    ) -> None:
        self.sink = sink
        self.live = live
        # A live recording takes frames in order too (it queues them itself, cheaply); only
        # when even that hand-over is full does this output skip one. A preview window beside
        # a file job takes the newest frame: it never holds the conversion up.
        preview = bool(getattr(sink, "preview", False)) and not owns_file(sink)
        self.ordered = owns_file(sink) or (not live and not preview)
        self._skipped = 0
        self._given = 0  # frames the sink's write took (it may skip some itself)
        self.retry_s = retry_s
        self._ctx_factory = ctx_factory
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: Frame | None = None  # live: the newest frame only
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)  # files: in order
        self._closing = False
        self._seq = 0  # frames handed over
        self._done = 0  # the last of them this output is finished with (written or skipped)
        self._pending_seq = 0
        self._taking = 0
        self._down_since: float | None = None
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self.failed = False  # the sink failed for good (no retry)
        self.report = OutputReport(sink.name, path=str(sink.path) if sink.path is not None else None)
        self.thread = threading.Thread(
            target=self._run, name=f"realtime-sink-{sink.name}", daemon=not owns_file(sink)
        )

    # -- called from the output thread --------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def wait_open(self) -> None:
        """Block until the sink opened on its thread; re-raise why it could not."""
        self._opened.wait()
        if self._open_error is not None:
            raise self._open_error

    def put(self, frame: Frame, stop: threading.Event) -> int:
        """Hand ``frame`` over; returns its ticket for ``wait_done`` (0: not taken)."""
        if self.failed or not self.thread.is_alive():
            return 0
        self._seq += 1
        if not self.ordered:
            with self._cond:
                if self._pending is not None:
                    self._skip()
                self._pending, self._pending_seq = frame, self._seq
                self._cond.notify()
            return self._seq
        if self.live:
            try:
                self._queue.put_nowait((self._seq, frame))
            except queue.Full:
                self._skip()
                with self._cond:
                    self._done = max(self._done, self._seq)  # nothing to wait for
                    self._cond.notify_all()
            return self._seq
        while self.thread.is_alive() and not self.failed:
            try:
                self._queue.put((self._seq, frame), timeout=0.1)
                return self._seq
            except queue.Full:
                if stop.is_set() and not owns_file(self.sink):
                    return 0
        return 0

    def _skip(self) -> None:
        self._skipped += 1
        self._count()
        if self._skipped == 1:
            log.warning("output %s cannot keep up; it skips frames (the others go on)", self.sink.name)

    def _count(self) -> None:
        """The output's skips: the hand-over's and the sink's own (a recording's encoder)."""
        own = int(getattr(self.sink, "skipped", 0) or 0)
        self.report.skipped = self._skipped + own
        self.report.written = self._given - own

    def wait_done(self, ticket: int) -> None:
        """Block until this output is finished with the frame of ``ticket`` (written, skipped
        or superseded), so the caller may reuse its buffer."""
        with self._cond:
            while self._done < ticket and self.thread.is_alive() and not self.failed:
                self._cond.wait(0.1)

    def finish(self) -> None:
        """Ask the thread to write what it holds, close the sink and end."""
        if not self.ordered:
            with self._cond:
                self._closing = True
                self._cond.notify()
            return
        while self.thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=0.1)
                return
            except queue.Full:
                continue

    def recording_state(self) -> dict[str, Any]:
        """A recording as the status line and the panel show it."""
        changes = list(getattr(self.sink, "encoder_changes", []))
        return {
            "path": self.report.path,
            "encoder": getattr(self.sink, "encoder", None),
            "encoder_changes": len(changes),
            "queued": self.backlog,
            "skipped": self.report.skipped,
            "failed": self.failed,
        }

    @property
    def backlog(self) -> int:
        own = int(getattr(self.sink, "backlog", 0) or 0)  # a recording's encoder queue
        return self._queue.qsize() + (1 if self._pending is not None else 0) + own

    # -- the sink's own thread ------------------------------------------------------------------
    def _next(self) -> Frame | None:
        """The next frame, or ``None`` once asked to finish. Should the program end without
        asking (an exception in the main thread), the sink still finishes on its own, so a
        file is finalised and the interpreter can exit."""
        while True:
            if self.ordered:
                try:
                    item = self._queue.get(timeout=0.5)
                except queue.Empty:
                    if not threading.main_thread().is_alive():
                        return None
                    continue
                if item is _STOP:
                    return None
                self._taking, frame = item
                return frame
            with self._cond:
                if self._pending is None and not self._closing:
                    self._cond.wait(0.5)
                if self._pending is not None or self._closing:
                    frame, self._pending = self._pending, None
                    self._taking = self._pending_seq
                    return frame
            if not threading.main_thread().is_alive():
                return None

    def _run(self) -> None:
        try:
            self.sink.open(self._ctx_factory())
        except BaseException as exc:
            self._open_error = exc
            self.failed = True
            self._opened.set()
            return
        self._opened.set()
        try:
            while True:
                frame = self._next()
                if frame is None:
                    return
                try:
                    self._handle(frame)
                finally:
                    with self._cond:
                        self._done = self._taking
                        self._cond.notify_all()
        finally:
            self._close()

    def _handle(self, frame: Frame) -> None:
        if self.failed:
            return  # keep taking frames so the output thread never waits on us
        if self._down_since is not None:
            if time.monotonic() - self._down_since < self.retry_s:
                return
            try:
                self.sink.open(self._ctx_factory())
            except Exception as exc:
                self._down_since = time.monotonic()
                log.debug("output %s still failing: %r", self.sink.name, exc)
                return
            self._down_since = None
            log.warning("output %s is back", self.sink.name)
        try:
            self.sink.write(frame)
            self._given += 1
            self._count()
        except Exception as exc:
            self._failed_write(exc)
            if not self.failed:
                self._down_since = time.monotonic()

    def _failed_write(self, exc: BaseException) -> None:
        retry = self.sink.retry
        log.error("output %s failed (%s); the others go on", self.sink.name, exc)
        try:
            self.sink.close()
        except Exception as cexc:
            log.debug("closing %s after failure: %r", self.sink.name, cexc)
        if not retry:
            self.failed = True
            self.report.error = exc
        self._on_error(self, exc)

    def _close(self) -> None:
        try:
            self.sink.close()
        except Exception as exc:
            log.error("closing output %s failed: %s", self.sink.name, exc)
            if self.report.error is None:
                self.report.error = exc
        finally:
            self._count()


class Fanout:
    """All the sinks of a run, each fed on its own thread."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        ctx_factory: Callable[[], SinkContext],
        *,
        live: bool,
        retry_s: float,
        on_all_failed: Callable[[BaseException], None],
        count_error: Callable[[str], int] | None = None,
    ) -> None:
        self._on_all_failed = on_all_failed
        self._count_error = count_error
        self._make = lambda s: SinkFeeder(
            s, ctx_factory, live=live, retry_s=retry_s, on_error=self._sink_error
        )
        self.feeders = [self._make(s) for s in sinks]
        self._change = threading.Lock()
        self._open = False

    def add(self, sink: Sink) -> None:
        """Add an output while the run goes on (a recording, the virtual camera): it is opened
        on its own thread now (or with the others, before the run starts); why it could not
        open is raised here and the run is untouched."""
        feeder = self._make(sink)
        with self._change:
            if self._open:
                feeder.start()
                feeder.wait_open()
            # Copy on write: the output thread iterates the old list undisturbed.
            self.feeders = [*self.feeders, feeder]

    def remove(self, sink: Sink) -> OutputReport:
        """Take an output out of the run and finalise it (a file is playable on return)."""
        with self._change:
            feeder = next((f for f in self.feeders if f.sink is sink), None)
            if feeder is None:
                raise ValueError(f"output {sink.name} is not part of this run")
            self.feeders = [f for f in self.feeders if f is not feeder]
        if feeder.thread.is_alive():
            feeder.finish()
            feeder.thread.join()
        return feeder.report

    def open(self) -> None:
        """Open every sink (each on its own thread); one that cannot open stops the run with its
        message (the user asked for it), after the ones already open are closed."""
        with self._change:
            self._open = True
            for feeder in self.feeders:
                feeder.start()
        error: BaseException | None = None
        for feeder in self.feeders:
            try:
                feeder.wait_open()
            except BaseException as exc:
                error = error or exc
        if error is not None:
            self.finish()
            self.join()
            raise error

    def put(
        self, frame: Frame, stop: threading.Event, steady_only: bool = False
    ) -> list[tuple[SinkFeeder, int]]:
        """Hand ``frame`` to every output; the tickets say when each is done with it."""
        return [
            (feeder, feeder.put(frame, stop))
            for feeder in self.feeders
            if not (steady_only and not feeder.sink.steady)
        ]

    @staticmethod
    def wait_done(tickets: list[tuple[SinkFeeder, int]]) -> None:
        for feeder, ticket in tickets:
            feeder.wait_done(ticket)

    def finish(self) -> None:
        for feeder in self.feeders:
            feeder.finish()

    def join(
        self, patience_s: float = 2.0, on_wait: Callable[[list[SinkFeeder]], None] | None = None
    ) -> None:
        """Wait for every file to be finalised, however long that takes (``on_wait`` is told
        what is still being written, once a second); give other outputs ``patience_s``."""
        deadline = time.monotonic() + patience_s
        for feeder in self.feeders:
            if not owns_file(feeder.sink):
                feeder.thread.join(max(0.0, deadline - time.monotonic()))
                if feeder.thread.is_alive():
                    log.warning("output %s did not close in %.0f s; leaving it", feeder.sink.name, patience_s)
        while True:
            busy = [f for f in self.feeders if owns_file(f.sink) and f.thread.is_alive()]
            if not busy:
                return
            busy[0].thread.join(1.0)
            if busy[0].thread.is_alive() and on_wait is not None:
                on_wait(busy)

    def reports(self) -> list[OutputReport]:
        return [f.report for f in self.feeders]

    def _sink_error(self, feeder: SinkFeeder, exc: BaseException) -> None:
        if self._count_error is not None:
            self._count_error(f"sink:{feeder.sink.name}")
        if all(f.failed for f in self.feeders):
            self._on_all_failed(SinkError(f"every output failed; last: {feeder.sink.name}: {exc}"))

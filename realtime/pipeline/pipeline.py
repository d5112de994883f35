"""The live pipeline: capture thread -> processing worker(s) -> output thread -> sinks.

Threads are joined by ``Ring``s. A live source uses the latest-wins policy, so a slow stage
drops frames instead of building up delay; a file source uses the blocking, ordered policy,
so nothing is dropped and frames leave in order. Every frame is accounted for:
``captured == processed + dropped + in_flight``, and ``in_flight`` is 0 once the run ends.

Faults stay local: a processor that raises passes that frame through (logged once with a
count), a stage thread that dies is restarted by its supervisor loop, a hung stage is reported
by the watchdog, and a failing sink is closed and retried without stopping the others.

The stages live beside it: capture (``capture.py``), the hand-over between rings
(``ring.hand_over``), output pacing (``output.py``), supervision and the watchdog
(``supervise.py``); this module lays them out and runs the processing workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from realtime.frame import Frame
from realtime.pipeline.capture import Capturing
from realtime.pipeline.fanout import Fanout, OutputReport, SinkFeeder
from realtime.pipeline.output import Outputting
from realtime.pipeline.ring import Policy, Ring, hand_over
from realtime.pipeline.runner import WRITABLE, ProcessorRunner
from realtime.pipeline.stats import Stats
from realtime.pipeline.supervise import Supervised
from realtime.pipeline.workers import serialise
from realtime.processor import Processor
from realtime.sinks.base import Sink, SinkContext
from realtime.sources.base import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineConfig:
    """How the threads are laid out. ``live=None`` follows the source."""

    workers: int = 1
    live: bool | None = None
    fps: float | None = None  # output pace; None follows the source
    hang_timeout_s: float = 2.0
    sink_retry_s: float = 2.0
    max_restarts: int = 5


class Pipeline(Capturing, Outputting, Supervised):
    """One run of source -> processors -> sinks. Build it, ``run()`` it, read ``stats``."""

    def __init__(
        self,
        source: Source,
        processors: Sequence[Processor],
        sinks: Sequence[Sink],
        config: PipelineConfig = PipelineConfig(),
        *,
        stages: Sequence[Sequence[Processor]] | None = None,
        status_extra: Callable[[], dict[str, Any]] | None = None,
        on_reload_face: Callable[[], None] | None = None,
        on_output: Callable[[Frame], None] | None = None,
    ) -> None:
        if not sinks:
            raise ValueError("a pipeline needs at least one sink")
        self.source = source
        self.sinks = list(sinks)
        self.config = config
        self.live = source.live if config.live is None else config.live
        self.stats = Stats()
        # Processing stages run in their own threads, one after the other (pipeline
        # parallelism: each processor is only ever called from one thread, in frame order).
        # A single stage may instead run on several workers (data parallelism).
        groups = [list(g) for g in stages] if stages is not None else [list(processors)]
        groups = [g for g in groups if g] or [[]]
        workers = max(1, config.workers) if len(groups) == 1 else 1
        if workers > 1:
            # Several workers call the chain at once: a processor that is not thread-safe
            # (it keeps state between frames) runs one call at a time.
            groups = [[serialise(p) for p in g] for g in groups]
        self.groups = groups
        self.runner = ProcessorRunner([p for g in groups for p in g], self.stats)
        policy = Policy.LATEST if self.live else Policy.BLOCK
        # A stage that leaves the image alone (face analysis) moves the frame on without a
        # copy: its slot stays owned until the next ring frees the frame. So each ring has
        # room for its own frames plus every slot of the rings after it.
        base = workers + 3  # writing, waiting, reading, and the output's last frame
        caps = [base * (len(groups) + 1 - i) for i in range(len(groups) + 1)]
        self.rings = [Ring(caps[0], policy, name="capture")]
        for i in range(len(groups)):
            name = "output" if i == len(groups) - 1 else f"stage-{i + 1}"
            self.rings.append(Ring(caps[i + 1], policy, ordered=not self.live, name=name))
        self.ring_in = self.rings[0]
        self.ring_out = self.rings[-1]
        self._workers = workers
        self._stop = threading.Event()
        self._processing = threading.Event()
        self._processing.set()
        self._threads: list[threading.Thread] = []
        self._busy_since: dict[str, float | None] = {}
        self._workers_left = [workers] * len(groups)
        self._lock = threading.Lock()
        self._discarded = 0
        self._status_extra = status_extra
        self._on_reload_face = on_reload_face
        self._on_output = on_output
        self._fatal: BaseException | None = None
        self._hung: set[str] = set()
        self.fanout = Fanout(
            self.sinks,
            self._sink_ctx,
            live=self.live,
            retry_s=config.sink_retry_s,
            on_all_failed=self._all_outputs_failed,
            count_error=self.stats.error,
        )
        self.on_finalising: Callable[[list[SinkFeeder]], None] | None = None
        self.restarts: dict[str, int] = {}
        self.t0 = time.monotonic()
        self.lost_source = False
        self.source_ended = False  # the source ran out (as opposed to a stop)
        self._resize_warned = False
        self._size: tuple[int, int] = (0, 0)
        # Hooks for ``realtime.control``: every command a sink's hotkey names goes to
        # ``command_handler`` when one is set; ``on_capture`` sees each captured frame (its
        # image is a ring slot: copy what you keep).
        self.command_handler: Callable[[str], object] | None = None
        self.on_capture: Callable[[Frame], None] | None = None
        # Sees every processed frame before the outputs and may replace it (``guard.py``:
        # no unswapped face goes out once one was swapped). Output thread only.
        self.output_filter: Callable[[Frame], Frame] | None = None

    def add_output(self, sink: Sink) -> None:
        """Add an output to the running pipeline (a recording, the virtual camera)."""
        self.fanout.add(sink)

    def remove_output(self, sink: Sink) -> OutputReport:
        """Remove an output and finalise it; a file is complete when this returns."""
        return self.fanout.remove(sink)

    def command(self, name: str) -> object:
        """A hotkey's command: through the handler if set, else stop/toggle/reload directly."""
        if self.command_handler is not None:
            return self.command_handler(name)
        plain: dict[str, Callable[[], None]] = {
            "stop": self.stop,
            "toggle_processing": self.toggle_processing,
            "reload_face": self._on_reload_face or (lambda: None),
        }
        return plain[name]()

    # -- controls -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every stage promptly; outputs are finalised by the output thread."""
        self._stop.set()
        for ring in self.rings:
            ring.close()

    def toggle_processing(self) -> None:
        if self._processing.is_set():
            self._processing.clear()
            log.info("processing paused")
        else:
            self._processing.set()
            log.info("processing resumed")

    @property
    def processing(self) -> bool:
        return self._processing.is_set()

    @property
    def fatal(self) -> BaseException | None:
        """Why the run ended early (a stage given up, every output failed), if it did."""
        return self._fatal

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def dropped(self) -> int:
        return sum(r.dropped for r in self.rings) + self._discarded

    @property
    def in_flight(self) -> int:
        return self.stats.captured - self.stats.processed - self.dropped

    def status(self) -> dict[str, Any]:
        snap = self.stats.snapshot(self.dropped, self.in_flight)
        snap["processing"] = self.processing
        snap["live"] = self.live
        recordings = [f.recording_state() for f in self.fanout.feeders if hasattr(f.sink, "encoder_changes")]
        if recordings:  # what each recording encodes with now, what it queued and skipped
            snap["recordings"] = recordings
        if self._status_extra:
            snap.update(self._status_extra())
        return snap

    # -- running ---------------------------------------------------------------------------
    def run(self, duration: float | None = None, max_frames: int | None = None) -> dict[str, Any]:
        """Run until the source ends, ``stop()`` is called, or ``duration``/``max_frames``.

        Returns the final stats. Raises the first fatal error (a source that cannot be
        opened or recovered, every sink failed) after everything is finalised.
        """
        self.start()
        try:
            self.wait(duration, max_frames)
        finally:
            self.stop()
            self.join()
        if self._fatal is not None:
            raise self._fatal
        return self.status()

    def start(self) -> None:
        self.t0 = self.stats.started_at = time.monotonic()
        self.source.open()
        fps = self.config.fps or self.source.fps or 30.0
        shape = (int(getattr(self.source, "height", 0) or 0), int(getattr(self.source, "width", 0) or 0))
        self._fps = fps
        self._size = shape
        try:
            self.fanout.open()
        except BaseException:
            self.source.close()
            raise
        self._spawn("capture", self._capture_loop)
        for g in range(len(self.groups)):
            for i in range(self._workers):
                name = f"process-{i}" if len(self.groups) == 1 else f"stage-{g}"
                self._spawn(name, lambda g=g: self._process_loop(g))  # type: ignore[misc]
        self._spawn("output", self._output_loop)
        self._spawn("watchdog", self._watchdog_loop, supervised=False)
        log.debug(
            "pipeline started: live=%s workers=%d fps=%.1f source=%s %s",
            self.live,
            self._workers,
            fps,
            self.source.name,
            shape,
        )

    def wait(self, duration: float | None = None, max_frames: int | None = None) -> None:
        end = None if duration is None else time.monotonic() + duration
        out = self._thread("output")
        while out is not None and out.is_alive() and not self._stop.is_set():
            if end is not None and time.monotonic() >= end:
                break
            if max_frames is not None and self.stats.processed >= max_frames:
                break
            out.join(0.05)

    def join(self, timeout: float = 1.0) -> None:
        """Wait for the stages (``timeout``: a camera read or a hung processor may never
        return), then for the output thread and every file to be finalised, however long the
        encoder needs: no recording is cut short at exit."""
        deadline = time.monotonic() + timeout
        out = self._thread("output")
        for t in self._threads:
            if t is not out:
                t.join(max(0.0, deadline - time.monotonic()))
        if out is not None:
            out.join()
        self.fanout.join(on_wait=self.on_finalising)
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("threads still finishing after %.1f s: %s", timeout, ", ".join(alive))
        # Frames still waiting in the rings will never be processed: they are drops.
        with self._lock:
            self._discarded += sum(r.waiting for r in self.rings)
        self._drain_rings()
        try:
            self.source.close()
        except Exception as exc:
            log.warning("closing the source failed: %r", exc)

    def outputs(self) -> list[OutputReport]:
        """How each output ended (frames written and skipped, the error if it failed)."""
        return self.fanout.reports()

    def _process_loop(self, group: int = 0) -> None:
        me = threading.current_thread().name.removeprefix("realtime-")
        src, dst = self.rings[group], self.rings[group + 1]
        ended = False  # the input ended or the run stopped: only then is the next ring closed
        try:
            while not self._stop.is_set():
                lease = src.get(timeout=0.1)
                if lease is None:
                    if src.closed and src.waiting == 0:
                        ended = True
                        return
                    continue
                with lease:
                    self._busy_since[me] = time.monotonic()
                    frame = lease.frame
                    try:
                        if self._processing.is_set():
                            # This worker alone holds the slot: a processor may draw into the
                            # image in place (WRITABLE) instead of copying the whole frame.
                            if WRITABLE not in frame.flags:
                                frame = frame.with_flag(WRITABLE)
                            frame = self.runner(frame, self.groups[group])
                        elif "passthrough" not in frame.flags:
                            frame = frame.with_flag("passthrough")
                    except BaseException:
                        # The stage crashed on this frame: it still moves on (as it came in),
                        # so a file job keeps every frame; the supervisor restarts the stage.
                        hand_over(dst, lease.frame.with_flag(f"failed:{me}"), lease, self._stop)
                        raise
                    self._busy_since[me] = None
                    if not hand_over(dst, frame, lease, self._stop):
                        with self._lock:
                            self._discarded += 1
                        ended = True
                        return
        finally:
            self._busy_since[me] = None
            if ended or self._stop.is_set():
                with self._lock:
                    self._workers_left[group] -= 1
                    last = self._workers_left[group] == 0
                if last:
                    dst.close()

    # -- sinks -----------------------------------------------------------------------------
    def _sink_ctx(self) -> SinkContext:
        w = int(getattr(self.source, "width", 0) or 0)
        h = int(getattr(self.source, "height", 0) or 0)
        return SinkContext(
            width=w,
            height=h,
            fps=self._fps,
            live=self.live,
            request_stop=self.stop,
            toggle_processing=self.toggle_processing,
            reload_face=self._on_reload_face or (lambda: None),
            status=self.status,
            command=self.command,
        )

    def _all_outputs_failed(self, exc: BaseException) -> None:
        self._fatal = self._fatal or exc
        self.stop()

    def _drain_rings(self) -> None:
        for ring in self.rings:
            while True:
                lease = ring.get(timeout=0)
                if lease is None:
                    break
                lease.release()

"""The live pipeline: capture thread -> processing worker(s) -> output thread -> sinks.

Threads are joined by ``Ring``s. A live source uses the latest-wins policy, so a slow stage
drops frames instead of building up delay; a file source uses the blocking, ordered policy,
so nothing is dropped and frames leave in order. Every frame is accounted for:
``captured == processed + dropped + in_flight``, and ``in_flight`` is 0 once the run ends.

Faults stay local: a processor that raises passes that frame through (logged once with a
count), a stage thread that dies is restarted by its supervisor loop, a hung stage is reported
by the watchdog, and a failing sink is closed and retried without stopping the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from realtime.errors import RealtimeError, StageError
from realtime.frame import Frame
from realtime.pipeline.fanout import Fanout, OutputReport, SinkFeeder
from realtime.pipeline.ring import Lease, Policy, Ring, RingClosed
from realtime.pipeline.runner import WRITABLE, ProcessorRunner, lost_frame
from realtime.pipeline.stats import Stats
from realtime.pipeline.workers import serialise
from realtime.processor import Processor
from realtime.sinks.base import Sink, SinkContext
from realtime.sources.base import Captured, Source

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


class Pipeline:
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
            log.info("processing paused: frames pass through")
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

    # -- threads ---------------------------------------------------------------------------
    def _spawn(self, name: str, fn: Callable[[], None], supervised: bool = True) -> None:
        target = (lambda: self._supervise(name, fn)) if supervised else fn
        # No stage thread owns a file: each file sink has its own non-daemon thread
        # (``fanout``), which the pipeline waits for. Capture and processing may block in a
        # camera read or a hung model, so they must not keep the process alive.
        t = threading.Thread(target=target, name=f"realtime-{name}", daemon=True)
        self._threads.append(t)
        t.start()

    def _thread(self, name: str) -> threading.Thread | None:
        for t in self._threads:
            if t.name == f"realtime-{name}":
                return t
        return None

    def _thread_alive(self, name: str) -> bool:
        t = self._thread(name)
        return t is not None and t.is_alive()

    def _supervise(self, name: str, fn: Callable[[], None]) -> None:
        """Run a stage loop; if it dies unexpectedly, log it and restart it with backoff."""
        restarts = 0
        while True:
            try:
                fn()
                return
            except RealtimeError as exc:
                log.error("%s stopped: %s", name, exc)
                self._fatal = self._fatal or exc
                self.stop()
                return
            except BaseException as exc:  # even SystemExit: a stage thread may not end the run
                restarts += 1
                self.restarts[name] = restarts
                self.stats.error(f"stage:{name}")
                if self._stop.is_set():
                    return
                if restarts > self.config.max_restarts:
                    log.error(
                        "%s crashed %d times; stopping: %r",
                        name,
                        restarts,
                        exc,
                        exc_info=log.isEnabledFor(logging.DEBUG),
                    )
                    self._fatal = self._fatal or StageError(
                        f"the {name} stage crashed {restarts} times and was given up: {exc!r}",
                        fix="run with --log-level debug and report the traceback",
                    )
                    self.stop()
                    return
                log.error(
                    "%s crashed (%r); restarting it (%d/%d)",
                    name,
                    exc,
                    restarts,
                    self.config.max_restarts,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                self._busy_since[name] = None
                time.sleep(min(1.0, 0.05 * 2**restarts))

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
                        self._publish(dst, lease.frame.with_flag(f"failed:{me}"), lease)
                        raise
                    self._busy_since[me] = None
                    if not self._publish(dst, frame, lease):
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

    def _publish(self, ring: Ring, frame: Frame, upstream: Lease) -> bool:
        """Put a processed ``frame`` into ``ring`` with as few copies as ownership allows:

        - the image is the upstream slot's, untouched (face analysis): the upstream lease
          moves on with it, no copy;
        - the image is a new array a processor made (a swap): frames are frozen, nobody
          writes to it again, so it is published as it is, no copy;
        - anything else that might share the upstream buffer: copied into the slot's own
          buffer, since that buffer will be rewritten.
        """
        while True:
            try:
                slot = ring.acquire(timeout=0.1, index=frame.index)
            except RingClosed:
                return False
            if slot is not None:
                break
            if self._stop.is_set():
                return False
        image, source = frame.image, upstream.frame.image
        if image is source:
            ring.publish(slot, frame, hold=upstream.transfer())
        elif not np.may_share_memory(image, source) and not ring.owns_buffer(image):
            ring.publish(slot, frame)
        else:
            buf = slot.buffer(image.shape)  # type: ignore[arg-type]
            np.copyto(buf, image)
            ring.publish(slot, frame.with_image(buf))
        return True

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

    def _watchdog_loop(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            for name, since in list(self._busy_since.items()):
                if since is not None and now - since > self.config.hang_timeout_s:
                    if name not in self._hung:
                        self._hung.add(name)
                        self.stats.error(f"hang:{name}")
                        log.error("%s has been stuck for %.1f s on one frame", name, now - since)
                        if name == "capture" and self.live:
                            self.lost_source = True  # a stalled camera: show it, don't freeze
                elif name in self._hung:
                    self._hung.discard(name)
                    log.warning("%s is moving again", name)

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

"""Recording to a video file (H.264 in MP4 by default) through PyAV.

The file is written under a temporary ``<name>.partial`` name and renamed into place on
``close``, so a half-written recording is never mistaken for a finished one. MP4/MOV are
written fragmented (a fragment per keyframe, one keyframe every two seconds): if the disk
fills up or the process dies, everything up to the last fragment stays playable, and on a
write error the sink cuts the file back to its last complete fragment before renaming it.
A live recording's timeline is its frames' capture times (variable frame rate, like the
stream really was: a source's own timestamps may restart or lie); a file job keeps the input's
timestamps; a constant ``fps`` may be asked for instead.

Nothing the user may need is deleted: a lock file beside the output names the run writing
it, so two runs cannot record over each other, and a ``.partial`` left by a run that was
killed is moved aside under a new name (and said so), never removed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.audio import AudioCopier
from realtime.sinks.backlog import DEFAULT_BYTES, Backlog
from realtime.sinks.base import SinkBase, SinkContext
from realtime.sinks.coverage import Coverage
from realtime.sinks.encoder import (
    EncoderOpener,
    LadderEncoder,
    Rung,
    add_video_stream,
    codec_options,
    keep_up,
    ladder,
    open_codec,
    probe_hardware,
    setting_error,
    write_error,
)
from realtime.sinks.fragments import count_frames, keep_file, set_aside, truncate_to_complete_boxes
from realtime.sinks.lock import OutputLock
from realtime.sinks.pace import Pace
from realtime.sinks.timeline import TIME_BASE, Timeline
from realtime.sinks.vcam import fit_to

log = logging.getLogger(__name__)

FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
FRAGMENT_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
SKIP_FIX = "lower --size or --fps, or convert a file instead (--input FILE), where nothing is skipped"

__all__ = ["FileSink", "count_frames", "truncate_to_complete_boxes"]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno)
    return " ".join(str(exc).split()) or type(exc).__name__


class FileSink(SinkBase):
    """Encodes frames to ``path``; ``close`` flushes the encoder and renames the file into place.

    ``fps=None`` keeps each frame's own timing (``frame.pts``, or its capture time when pts
    do not advance); a number writes a constant frame rate. An existing ``path`` is never
    replaced unless ``overwrite``.

    A live recording encodes on its own thread behind a queue of ``queue_bytes``
    (``realtime.sinks.backlog``) and moves to faster encoder settings when the queue fills
    (``realtime.sinks.encoder``); only when the fastest cannot keep up are frames skipped,
    counted in ``skipped``. A file job encodes in the caller's thread: it is never hurried.
    """

    name = "file"
    steady = False
    retry = False  # a failed recording is finalised, not reopened over itself
    path: Path
    temp_path: Path
    frames_saved: int

    def __init__(
        self,
        path: str | Path,
        codec: str = "libx264",
        crf: int = 20,
        preset: str = "veryfast",
        fps: float | None = None,
        tune: str | None = None,
        audio_from: str | Path | None = None,
        loop_audio: bool = False,
        size: tuple[int, int] | None = None,
        bitrate: int | None = None,
        keep_pts: bool = False,
        *,
        overwrite: bool = False,
        fragmented: bool = True,
        opener: Callable[..., Any] = av.open,
        queue_bytes: int = DEFAULT_BYTES,
        hardware: Sequence[str] | None = None,
        encoder_opener: EncoderOpener = open_codec,
    ) -> None:
        self.path = Path(path)
        self.temp_path = self.path.with_name(self.path.name + ".partial")
        self.codec = codec
        self.crf = int(crf)
        self.preset = preset
        self.tune = tune
        self.audio_from = Path(audio_from) if audio_from else None
        self.loop_audio = loop_audio
        self.size = size
        self.bitrate = bitrate
        self.keep_pts = keep_pts  # file jobs keep the input's timeline (and its audio's)
        self._audio: AudioCopier | None = None
        self.fps = fps
        self.overwrite = overwrite
        self.fragmented = fragmented
        self._opener = opener
        self._container: Any = None
        self._stream: Any = None
        self._size = (0, 0)  # what frames are fitted to (the stream format)
        self._pad = (0, 0)  # right, bottom padding to even dimensions for yuv420p
        self._format = ""
        self._timeline = Timeline(fps, keep_pts)
        self._error: SinkError | None = None
        self._failing = threading.Lock()
        self.frames_written = 0
        self.frames_saved = 0  # what the saved file holds (fewer after a cut-back)
        self.saved_to: Path | None = None
        self._lock = OutputLock(self.path)
        self._reported = False
        self.audio_copied = False
        self.audio_mode: str | None = None  # "copied", "converted to AAC", or no audio
        self._file: Any = None
        self.queue_bytes = queue_bytes
        self._hardware = hardware  # None: probe this machine's hardware encoders when live
        self._encoder_opener = encoder_opener
        self._encoder: LadderEncoder | None = None
        self._backlog: Backlog | None = None
        self._pace = Pace()
        self._coverage = Coverage()
        self.skipped = 0  # frames refused: the fastest encoder could not keep up
        self.live = False

    # -- open -----------------------------------------------------------------------------
    def open(self, ctx: SinkContext) -> None:
        if self._container is not None:
            return
        fmt = FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise SinkError(
                f"cannot write video files of type {self.path.suffix or '(none)'}: {self.path}",
                fix=f"name the output {self.path.stem}.mp4 (or .mov, .mkv)",
            )
        if self.path.exists() and not self.overwrite:
            raise SinkError(f"output file exists: {self.path}", fix="choose another name or pass --force")
        if not self.path.parent.is_dir():
            raise SinkError(f"output folder does not exist: {self.path.parent}", fix="create it first")
        if ctx.width < 1 or ctx.height < 1:
            raise SinkError(f"cannot record frames of size {ctx.width}x{ctx.height}")
        self._lock.acquire()  # raises SinkError naming the run that holds it
        try:
            set_aside(self.temp_path, self.path)
            self._open_container(ctx, fmt)
        except BaseException:
            self._lock.release()
            raise

    def _open_container(self, ctx: SinkContext, fmt: str, convert_audio: bool = False) -> None:
        rate = Fraction(self.fps or ctx.fps or 30.0).limit_denominator(1001)
        options = {"movflags": FRAGMENT_FLAGS} if self.fragmented and fmt in ("mp4", "mov") else {}
        try:
            # Through a Python file: FFmpeg's own writer only flags a failed write (a full
            # disk) and goes on, so the run would end "successfully" with frames missing.
            # Python's raises at the frame that did not fit.
            self._file = open(self.temp_path, "wb", buffering=0)  # noqa: SIM115 (closed in _close_container)
            container = self._opener(self._file, mode="w", format=fmt, options=options)
        except (av.FFmpegError, OSError) as exc:
            self._close_file()
            raise SinkError(
                f"cannot create {self.temp_path}: {_reason(exc)}", fix="check the folder is writable"
            ) from exc
        try:
            opts = codec_options(
                self.codec, self.preset, self.crf, self.bitrate, self.tune, rate, bool(options)
            )
            w, h = self.size or (ctx.width, ctx.height)
            self._pad = (w % 2, h % 2)
            stream = add_video_stream(container, self.codec, rate, opts, self.bitrate, (w, h))
        except (av.FFmpegError, ValueError, OSError) as exc:
            self._close_container(container)
            self.temp_path.unlink(missing_ok=True)
            raise SinkError(
                f"video codec {self.codec!r} cannot be used: {_reason(exc)}", fix="use libx264"
            ) from exc
        try:
            self._audio = self._open_audio(container, fmt, convert_audio)
            container.start_encoding()  # the header: what the container refuses, it refuses now
        except (SinkError, av.FFmpegError, ValueError, OSError) as exc:
            copied = self._audio is not None and self._audio.copy
            if self._audio is not None:
                self._audio.close()
                self._audio = None
            self._close_container(container)
            self.temp_path.unlink(missing_ok=True)
            if isinstance(exc, SinkError):
                raise
            if copied and isinstance(exc, av.FFmpegError):
                log.info("%s cannot hold the audio as it is (%s): converting it to AAC", fmt, _reason(exc))
                return self._open_container(ctx, fmt, convert_audio=True)
            raise setting_error(exc, self.path, self.temp_path, self.codec, self.preset, rate) from exc
        self._container, self._stream = container, stream
        self.audio_copied = self._audio is not None
        self.audio_mode = (
            None if self._audio is None else "copied" if self._audio.copy else "converted to AAC"
        )
        self._size = (w, h)
        self._format = fmt
        self._timeline, self._error = Timeline(self.fps, self.keep_pts), None
        self.frames_written = self.frames_saved = self.skipped = 0
        self.saved_to = None
        self._pace, self._coverage = Pace(), Coverage()
        self.live = ctx.live and not self.keep_pts
        first = Rung(self.codec, tuple(opts.items()))
        hardware = (
            (probe_hardware() if self._hardware is None else tuple(self._hardware)) if self.live else ()
        )
        self._encoder = LadderEncoder(
            stream.codec_context,
            ladder(first, hardware) if self.live else [first],
            (stream.width, stream.height),
            rate,
            self.bitrate,
            self._encoder_opener,
        )
        if self.live:
            self._backlog = Backlog(
                self._encode_item,
                max_bytes=self.queue_bytes,
                after=self._keep_up,
                name=f"realtime-encode-{self.path.name}",
            )
        log.info("recording to %s (%s, %dx%d)", self.path, first.label, stream.width, stream.height)

    @property
    def encoder(self) -> str:
        """The encoder now in use (it may have changed to keep up)."""
        return self._encoder.label if self._encoder is not None else self.codec

    @property
    def encoder_changes(self) -> list[dict[str, object]]:
        return [c.as_dict() for c in self._encoder.changes] if self._encoder is not None else []

    @property
    def frames_captured(self) -> int | None:
        """A live recording: the frames captured while it recorded (``None`` for a file job)."""
        return self._coverage.span if self.live else None

    @property
    def backlog(self) -> int:
        """Frames waiting for the encoder."""
        return self._backlog.queued if self._backlog is not None else 0

    def _open_audio(self, container: Any, fmt: str, convert: bool = False) -> AudioCopier | None:
        if self.audio_from is None:
            return None
        try:
            return AudioCopier(self.audio_from, container, fmt, convert=convert, loop=self.loop_audio)
        except ValueError:
            log.info("%s has no audio track", self.audio_from)
            return None
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(
                f"cannot carry the audio of {self.audio_from} into {self.path}: {_reason(exc)}",
                fix="pass --no-audio, or another --output container",
            ) from exc

    # -- write ----------------------------------------------------------------------------
    def _prepare(self, image: np.ndarray) -> np.ndarray:
        """The frame as the encoder takes it: fitted, padded to even, YUV 4:2:0 (a new array,
        half the bytes of BGR, and no conversion left for the encoder's thread)."""
        image = fit_to(image, *self._size)
        right, bottom = self._pad
        if right or bottom:
            image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)

    def write(self, frame: Frame) -> None:
        """Encode one frame. The pipeline calls this from the file's own thread, so a slow
        encoder never holds up the other outputs (``realtime.pipeline.fanout``)."""
        with self._failing:  # the encoder's thread may be finalising a failure right now
            pass
        if self._error is not None:
            self._reported = True
            raise self._error
        if self._container is None:
            raise SinkError(f"recording {self.path} written before open()", fix="call open(ctx) first")
        try:
            item = (self._prepare(frame.image), self._timeline.next(frame))
            if self.live:
                self._coverage.seen(frame.index)
            if self._backlog is None:
                self._encode_item(item)
            elif self._backlog.offer(item, item[0].nbytes):
                self._pace.arrived(time.monotonic())
            else:
                self._skip()
        except SinkError:
            self._reported = True
            raise

    def _skip(self) -> None:
        self.skipped += 1
        if self.skipped == 1:
            log.warning(
                "recording %s cannot keep up even with %s (%d frames queued): it skips frames (%s)",
                self.path, self.encoder, self.backlog, SKIP_FIX,
            )  # fmt: skip

    def _keep_up(self, queued: int, capacity: int) -> None:
        """On the encoder's thread after each frame (``realtime.sinks.encoder.keep_up``)."""
        if self._encoder is not None and self._container is not None:
            container = self._container
            mux = lambda pkts: self._mux(container, pkts)  # noqa: E731
            # The swap's drops since this encoder settled (those before are not its doing).
            starved = self._coverage.take_recent() if self._pace.settled(time.monotonic()) else 0
            keep_up(self._encoder, self._pace, queued, capacity, mux, self.frames_written, self.path, starved)

    @staticmethod
    def _mux(container: Any, packets: list[Any]) -> None:
        for packet in packets:
            container.mux(packet)

    def _encode_item(self, item: tuple[np.ndarray, int]) -> None:
        container, stream, enc = self._container, self._stream, self._encoder
        if container is None or enc is None:
            return
        yuv, tick = item
        vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        vf.pts = tick
        vf.time_base = TIME_BASE
        t0 = time.monotonic()
        try:
            packets = enc.encode(vf)
            for packet in packets:
                packet.stream = stream
                container.mux(packet)
            if self._audio is not None:
                self._audio.pump(float(tick * TIME_BASE))
        except (av.FFmpegError, OSError) as exc:
            raise self._fail(exc) from exc
        self._pace.encoded(t0, len(packets))
        self.frames_written += 1

    def _fail(self, exc: BaseException) -> SinkError:
        """Finalise what was written (it stays playable) and build the error to raise."""
        log.error("writing %s failed after %d frames: %r", self.path, self.frames_written, exc)
        with self._failing:  # a write meanwhile sees the error, not a closed file
            saved = self._finalise(flush=False, failed=True)
            kept = self.frames_saved if saved else 0
            self._error = write_error(exc, self.path, self.frames_written, kept, self._format, self.encoder)
        return self._error

    # -- close ----------------------------------------------------------------------------
    def close(self) -> None:
        backlog, self._backlog = self._backlog, None
        if backlog is not None:
            try:
                backlog.close()  # every frame queued is encoded first
            except SinkError:
                pass  # the recording was finalised where it failed; raised below
            except BaseException as exc:  # a bug on the encoder's thread: finalise, then say so
                log.error("encoding %s failed: %r", self.path, exc)
                self._error = self._error or SinkError(f"encoding {self.path} failed: {exc}")
        if self._container is None:
            if self._error is not None and not self._reported:
                self._reported = True
                raise self._error  # failed after the last write: still say so once
            return
        self._finalise(flush=True, failed=False)
        if self._error is not None:
            self._reported = True
            raise self._error

    def _finalise(self, *, flush: bool, failed: bool) -> bool:
        """Flush (unless failed), close the container and move the file into place.

        Returns whether a file was saved at ``path``. Runs once: it clears the container
        first, so a second ``close`` (from a ``finally``) does nothing.
        """
        container, stream = self._container, self._stream
        self._container = self._stream = None
        if container is None:
            return False
        audio, self._audio = self._audio, None
        try:
            if flush and self._encoder is not None:
                for packet in self._encoder.flush():
                    packet.stream = stream
                    container.mux(packet)
                if audio is not None:  # the sound up to the end of the last frame
                    step = 1.0 / float(stream.average_rate or 30)
                    audio.finish(self._timeline.seconds + step)
                    audio = None
        except (av.FFmpegError, OSError) as exc:
            failed = True
            log.error("flushing %s failed: %r", self.path, exc)
            self._error = self._finishing_error(exc)
        finally:
            if audio is not None:
                audio.close()
            try:
                self._close_container(container)
            except (av.FFmpegError, OSError) as exc:
                failed = True
                log.error("closing %s failed: %r", self.path, exc)
                self._error = self._error or self._finishing_error(exc)
        return self._move_into_place(failed)

    def _finishing_error(self, exc: BaseException) -> SinkError:
        why = _reason(exc)
        return SinkError(
            f"finishing {self.path} failed: {why}", fix="free some disk space and check the disk"
        )

    def _close_container(self, container: Any) -> None:
        try:
            container.close()
        finally:
            self._close_file()

    def _close_file(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()  # the last buffered bytes: may raise on a full disk

    def _move_into_place(self, failed: bool) -> bool:
        try:
            return self._save(failed)
        finally:
            self._lock.release()

    def _save(self, failed: bool) -> bool:
        saved, error = keep_file(
            self.temp_path,
            self.path,
            self.frames_written,
            failed=failed,
            cut=failed and self._format in ("mp4", "mov") and self.fragmented,
            overwrite=self.overwrite,
        )
        self._error = self._error or error
        if saved:
            self.frames_saved = saved
            self.saved_to = self.path
        return bool(saved)

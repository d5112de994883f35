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

import errno
import logging
import os
import struct
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.audio import AudioCopier
from realtime.sinks.base import SinkBase, SinkContext
from realtime.sinks.lock import OutputLock
from realtime.sinks.vcam import fit_to

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)  # the MPEG clock: fine enough for any frame rate
FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
FRAGMENT_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
_X26X = ("libx264", "libx265")


def truncate_to_complete_boxes(path: Path) -> int:
    """Cut an MP4 after its last complete top-level box that is not a lone ``moof``.

    After a failed write the tail may hold half a fragment; players and PyAV stop (or fail)
    there, so dropping it leaves a file that plays cleanly to its last whole fragment.
    Returns the new size.
    """
    size = path.stat().st_size
    good = 0
    offset = 0
    with path.open("rb") as f:
        while offset + 8 <= size:
            f.seek(offset)
            box_size, box_type = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                raw = f.read(8)
                if len(raw) < 8:
                    break
                (box_size,) = struct.unpack(">Q", raw)
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or offset + box_size > size:
                break
            offset += box_size
            if box_type != b"moof":  # a fragment is complete once its mdat is
                good = offset
    if good < size:
        os.truncate(path, good)
        log.info("cut %s from %d to %d bytes (last complete fragment)", path, size, good)
    return good


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno)
    return " ".join(str(exc).split()) or type(exc).__name__


class FileSink(SinkBase):
    """Encodes frames to ``path``; ``close`` flushes the encoder and renames the file into place.

    ``fps=None`` keeps each frame's own timing (``frame.pts``, or its capture time when pts
    do not advance); a number writes a constant frame rate. An existing ``path`` is never
    replaced unless ``overwrite``.
    """

    name = "file"
    steady = False
    retry = False  # a failed recording is finalised, not reopened over itself
    path: Path
    temp_path: Path

    def __init__(
        self,
        path: str | Path,
        codec: str = "libx264",
        crf: int = 20,
        preset: str = "veryfast",
        fps: float | None = None,
        tune: str | None = None,
        audio_from: str | Path | None = None,
        size: tuple[int, int] | None = None,
        bitrate: int | None = None,
        keep_pts: bool = False,
        *,
        overwrite: bool = False,
        fragmented: bool = True,
        opener: Callable[..., Any] = av.open,
    ) -> None:
        self.path = Path(path)
        self.temp_path = self.path.with_name(self.path.name + ".partial")
        self.codec = codec
        self.crf = int(crf)
        self.preset = preset
        self.tune = tune
        self.audio_from = Path(audio_from) if audio_from else None
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
        self._tick = -1
        self._prev: tuple[float, float] | None = None  # (pts, captured_at) of the last frame
        self._t0: float | None = None  # capture time of the first frame (live timeline)
        self._error: SinkError | None = None
        self.frames_written = 0
        self.frames_saved = 0  # what the saved file holds (fewer after a cut-back)
        self.saved_to: Path | None = None
        self._lock = OutputLock(self.path)
        self._reported = False
        self.audio_copied = False
        self._file: Any = None

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
            self._set_aside_leftover()
            self._open_container(ctx, fmt)
        except BaseException:
            self._lock.release()
            raise

    def _set_aside_leftover(self) -> None:
        """A ``.partial`` from a run that was killed is someone's only copy: keep it."""
        if not self.temp_path.exists():
            return
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.temp_path.stat().st_mtime))
        kept = self.path.with_name(f"{self.path.stem}.recovered-{stamp}{self.path.suffix}")
        n = 1
        while kept.exists():
            n += 1
            kept = self.path.with_name(f"{self.path.stem}.recovered-{stamp}-{n}{self.path.suffix}")
        os.replace(self.temp_path, kept)
        log.warning("an earlier run left an unfinished recording; it is kept as %s", kept)

    def _open_container(self, ctx: SinkContext, fmt: str) -> None:
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
            codec_options = {"g": str(max(1, round(2 * float(rate))))}
            if self.codec in _X26X:
                codec_options["preset"] = self.preset
                if not self.bitrate:
                    codec_options["crf"] = str(self.crf)
                if self.tune:
                    codec_options["tune"] = self.tune
                if options:  # fragmented MP4 has no edit list: B-frames would delay the start
                    codec_options["bf"] = "0"
            elif self.codec == "libvpx-vp9" and not self.bitrate:
                codec_options.update(crf=str(self.crf), b="0", deadline="realtime", **{"cpu-used": "8"})
            stream = container.add_stream(self.codec, rate=rate, options=codec_options)
            if self.bitrate:
                stream.bit_rate = int(self.bitrate)
            w, h = self.size or (ctx.width, ctx.height)
            self._pad = (w % 2, h % 2)
            stream.width, stream.height = w + w % 2, h + h % 2
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = TIME_BASE
        except (av.FFmpegError, ValueError, OSError) as exc:
            self._close_container(container)
            self.temp_path.unlink(missing_ok=True)
            raise SinkError(
                f"video codec {self.codec!r} cannot be used: {_reason(exc)}", fix="use libx264"
            ) from exc
        try:
            self._audio = self._open_audio(container, fmt)
        except SinkError:
            self._close_container(container)
            self.temp_path.unlink(missing_ok=True)
            raise
        self._container, self._stream = container, stream
        self.audio_copied = self._audio is not None
        self._size = (w, h)
        self._format = fmt
        self._tick, self._prev, self._t0, self._error = -1, None, None, None
        self.frames_written = self.frames_saved = 0
        self.saved_to = None
        log.info("recording to %s (%s, %dx%d)", self.path, self.codec, stream.width, stream.height)

    def _open_audio(self, container: Any, fmt: str) -> AudioCopier | None:
        if self.audio_from is None:
            return None
        try:
            return AudioCopier(self.audio_from, container, fmt)
        except ValueError:
            log.info("%s has no audio track", self.audio_from)
            return None
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(
                f"cannot carry the audio of {self.audio_from} into {self.path}: {_reason(exc)}",
                fix="pass --no-audio, or another --output container",
            ) from exc

    # -- write ----------------------------------------------------------------------------
    def _next_tick(self, frame: Frame) -> int:
        """Strictly increasing pts in TIME_BASE units, from the frames' own timing."""
        if self.fps:
            tick = round(self.frames_written / float(self.fps) / TIME_BASE)
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
            tick = self._tick + round(max(step, 0.0) / TIME_BASE)
        self._prev = (frame.pts, frame.captured_at)
        return max(tick, self._tick + 1)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        image = fit_to(image, *self._size)
        right, bottom = self._pad
        if right or bottom:
            image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(image)

    def write(self, frame: Frame) -> None:
        """Encode one frame. The pipeline calls this from the file's own thread, so a slow
        encoder never holds up the other outputs (``realtime.pipeline.fanout``)."""
        if self._error is not None:
            self._reported = True
            raise self._error
        if self._container is None:
            raise SinkError(f"recording {self.path} written before open()", fix="call open(ctx) first")
        try:
            self._encode(frame)
        except SinkError:
            self._reported = True
            raise

    def _encode(self, frame: Frame) -> None:
        container, stream = self._container, self._stream
        if container is None:
            return
        tick = self._next_tick(frame)
        vf = av.VideoFrame.from_ndarray(self._prepare(frame.image), format="bgr24")
        vf.pts = tick
        vf.time_base = TIME_BASE
        try:
            for packet in stream.encode(vf):
                container.mux(packet)
            if self._audio is not None:
                self._audio.pump(float(tick * TIME_BASE))
        except (av.FFmpegError, OSError) as exc:
            raise self._fail(exc) from exc
        self._tick = tick
        self.frames_written += 1

    def _fail(self, exc: BaseException) -> SinkError:
        """Finalise what was written (it stays playable) and build the error to raise."""
        log.error("writing %s failed after %d frames: %r", self.path, self.frames_written, exc)
        saved = self._finalise(flush=False, failed=True)
        reason = _reason(exc)
        fix = (
            "free some disk space"
            if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EFBIG)
            else "check the disk"
        )
        if saved:
            fix += f"; the recording up to the failure was saved to {self.path} ({self.frames_saved} frames)"
        else:
            fix += "; nothing could be saved"
        self._error = SinkError(
            f"writing {self.path} failed after {self.frames_written} frames: {reason}", fix=fix
        )
        return self._error

    # -- close ----------------------------------------------------------------------------
    def close(self) -> None:
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
            if flush:
                for packet in stream.encode(None):
                    container.mux(packet)
                if audio is not None:  # the sound up to the end of the last frame
                    step = 1.0 / float(stream.average_rate or 30)
                    audio.finish(float(self._tick * TIME_BASE) + step)
                    audio = None
        except (av.FFmpegError, OSError) as exc:
            failed = True
            log.error("flushing %s failed: %r", self.path, exc)
            self._error = SinkError(
                f"finishing {self.path} failed: {_reason(exc)}", fix="free some disk space and check the disk"
            )
        finally:
            if audio is not None:
                audio.close()
            try:
                self._close_container(container)
            except (av.FFmpegError, OSError) as exc:
                failed = True
                log.error("closing %s failed: %r", self.path, exc)
                if self._error is None:
                    self._error = SinkError(
                        f"finishing {self.path} failed: {_reason(exc)}",
                        fix="free some disk space and check the disk",
                    )
        return self._move_into_place(failed)

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
        temp = self.temp_path
        if self.frames_written == 0:
            log.warning("no frames were recorded; %s not created", self.path)
            temp.unlink(missing_ok=True)
            return False
        try:
            if failed and self._format in ("mp4", "mov") and self.fragmented:
                truncate_to_complete_boxes(temp)
            saved = count_frames(temp)
            if not failed and saved < self.frames_written:  # never claim what is not there
                failed = True
                self._error = SinkError(
                    f"{self.path} holds {saved} of the {self.frames_written} frames written",
                    fix="check the disk",
                )
            if saved == 0:  # only headers made it to disk: nothing anyone could play
                log.warning("no complete frame reached %s before the failure; nothing saved", temp)
                temp.unlink(missing_ok=True)
                return False
            if self.path.exists() and not self.overwrite:
                self._error = SinkError(
                    f"{self.path} appeared while recording; the recording is in {temp}",
                    fix="rename one of them",
                )
                return False
            os.replace(temp, self.path)
        except OSError as exc:
            log.error("cannot move %s into place: %r", temp, exc)
            if self._error is None:
                self._error = SinkError(
                    f"cannot save {self.path}: {_reason(exc)}", fix=f"the recording is in {temp}"
                )
            return False
        self.frames_saved = saved
        self.saved_to = self.path
        log.info("saved %s (%d frames)", self.path, saved)
        return True


def count_frames(path: Path) -> int:
    """Video frames a file really holds, read back from its packets (0 if it cannot be read)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0
            stream = container.streams.video[0]
            return sum(1 for p in container.demux(stream) if p.size)
    except (av.FFmpegError, OSError):
        return 0

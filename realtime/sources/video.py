"""Video files and network streams through PyAV.

A file is either played back in real time at its own rate (``realtime=True``: a live source,
read latest-wins like a camera) or read as fast as the pipeline takes it (file mode, nothing
dropped). Network URLs are always live: they arrive at their own pace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np

from realtime.errors import InputError, SourceError
from realtime.sources.base import Captured

log = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def is_url(target: str | Path) -> bool:
    """True for the network addresses PyAV opens as streams rather than local files."""
    return str(target).lower().startswith(URL_SCHEMES)


class Pacer:
    """Sleeps until a media timestamp is due on the wall clock.

    The first call anchors media time to the clock. When the reader falls more than
    ``max_lag`` seconds behind (a stall, a paused debugger), it re-anchors instead of
    bursting through the backlog, so a live consumer never sees a flood of stale frames.
    """

    def __init__(
        self,
        max_lag: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_lag = max_lag
        self._clock = clock
        self._sleep = sleep
        self._anchor: tuple[float, float] | None = None  # (wall, media)

    def reset(self) -> None:
        self._anchor = None

    def wait(self, media_t: float) -> None:
        """Block until ``media_t`` (seconds on the media timeline) is due."""
        now = self._clock()
        if self._anchor is None:
            self._anchor = (now, media_t)
            return
        wall0, media0 = self._anchor
        due = wall0 + (media_t - media0)
        if now - due > self.max_lag or media_t < media0:
            self._anchor = (now, media_t)
            return
        if due > now:
            self._sleep(due - now)


def _rotation_of(stream: Any, first: av.VideoFrame | None) -> int:
    """Clockwise degrees (0/90/180/270) that turn decoded pictures upright.

    Newer FFmpeg puts the display matrix on each frame (counter-clockwise degrees); older
    files may carry the legacy ``rotate`` tag (clockwise degrees) in the stream metadata.
    """
    tag = stream.metadata.get("rotate") if stream.metadata else None
    if tag is not None:
        try:
            return round(float(tag) / 90) * 90 % 360
        except ValueError:
            log.warning("ignoring unreadable rotate tag %r", tag)
    if first is not None:
        ccw = float(getattr(first, "rotation", 0) or 0)
        return round(-ccw / 90) * 90 % 360
    return 0


def _rotate(image: np.ndarray, clockwise: int) -> np.ndarray:
    if clockwise == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=-(clockwise // 90)))


class VideoSource:
    """Frames of a video file or network stream, with pts in seconds from the stream.

    Attributes known after ``open``: ``fps``, ``width``, ``height`` (of the delivered, upright
    pictures), ``rotation`` (clockwise degrees applied), ``has_audio``, ``duration`` (seconds
    or ``None``). With ``loop`` a file starts over at its end and pts keep increasing.
    """

    name = "video"

    def __init__(
        self,
        path_or_url: str | Path,
        realtime: bool = True,
        loop: bool = False,
        *,
        timeout: float = 10.0,
        autorotate: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        until: float | None = None,
    ) -> None:
        self.target = str(path_or_url)
        self.url = is_url(path_or_url)
        self.realtime = realtime
        self.loop = loop and not self.url
        self.until = until  # end at this media time (seconds), however often it loops
        self.timeout = timeout
        self.autorotate = autorotate
        self.live = realtime or self.url
        self.fps = 30.0
        self.width = 0
        self.height = 0
        self.rotation = 0
        self.has_audio = False
        self.duration: float | None = None
        self.promised: int | None = None  # frames the container's header says it holds
        self.cut_short: str | None = None  # why decoding stopped before the end, if it did
        self._pacer = Pacer(clock=clock, sleep=sleep) if realtime and not self.url else None
        self._container: Any = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._pending: av.VideoFrame | None = None
        self._offset = 0.0  # added to pts after each loop so they keep increasing
        self._last_pts: float | None = None
        self._frame_step = 1.0 / 30.0
        self._in_pass = 0

    @classmethod
    def from_spec(cls, target: str, **options: Any) -> VideoSource:
        """Registry entry: ``target`` is the file path or URL."""
        return cls(target, **options)

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        if not self.url:
            path = Path(self.target)
            if not path.is_file():
                raise InputError(f"video not found: {path}", fix="check the path passed to --input")
        if self._container is not None:
            return
        container = self._open_container()
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if rate and float(rate) > 0:
            self.fps = float(rate)
        self._frame_step = 1.0 / self.fps
        self.has_audio = len(container.streams.audio) > 0
        if container.duration:
            self.duration = container.duration / av.time_base
        self.promised = int(stream.frames) if stream.frames and stream.frames > 0 else None
        self._pending = self._next_frame()
        if self._pending is None:
            self.close()
            raise InputError(f"video has no decodable frames: {self.target}", fix="try another file")
        self.rotation = _rotation_of(stream, self._pending) if self.autorotate else 0
        w, h = self._pending.width, self._pending.height
        self.width, self.height = (h, w) if self.rotation in (90, 270) else (w, h)
        log.info(
            "opened %s: %dx%d at %.3g fps%s%s",
            self.target,
            self.width,
            self.height,
            self.fps,
            f", rotated {self.rotation}°" if self.rotation else "",
            ", with audio" if self.has_audio else "",
        )

    def _open_container(self) -> Any:
        options = {"rtsp_transport": "tcp"} if self.target.lower().startswith("rtsp") else {}
        try:
            container = av.open(
                self.target, mode="r", options=options, timeout=self.timeout if self.url else None
            )
        except (av.FFmpegError, OSError) as exc:
            what = "stream" if self.url else "video"
            raise InputError(
                f"cannot open {what} {self.target}: {_reason(exc)}",
                fix="check the URL and that the stream is up" if self.url else "is it a video file?",
            ) from exc
        if not container.streams.video:
            container.close()
            raise InputError(f"no video stream in {self.target}", fix="pass a file with video")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self._container = container
        self._frames = container.decode(stream)
        self._in_pass = 0
        return container

    def close(self) -> None:
        container, self._container = self._container, None
        self._frames = None
        self._pending = None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError) as exc:
                log.debug("closing %s: %r", self.target, exc)

    # -- reading --------------------------------------------------------------------------
    def _next_frame(self) -> av.VideoFrame | None:
        assert self._frames is not None
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except (av.FFmpegError, OSError) as exc:
            if self.url:
                raise SourceError(
                    f"stream {self.target} stopped delivering: {_reason(exc)}",
                    fix="check the network and the stream",
                ) from exc
            if self._in_pass == 0:
                raise InputError(
                    f"cannot decode {self.target}: {_reason(exc)}",
                    fix="the file may be damaged; re-encode it",
                ) from exc
            # A truncated tail (an interrupted recording) ends the video instead of failing
            # the frames that played well.
            log.warning("%s: decoding stopped after %d frames: %s", self.target, self._in_pass, _reason(exc))
            self.cut_short = _reason(exc)
            return None
        self._in_pass += 1
        return frame

    def read(self) -> Captured | None:
        if self._frames is None:
            raise SourceError(f"{self.target} is not open", fix="call open() first")
        frame, self._pending = self._pending, None
        if frame is None:
            frame = self._next_frame()
        if frame is None and self.loop and self._in_pass > 0:
            self._restart()
            frame, self._pending = self._pending, None
        if frame is None:
            return None
        pts = self._pts_of(frame)
        if self.until is not None and pts >= self.until:
            return None
        if self._pacer is not None:
            self._pacer.wait(pts)
        image = _rotate(frame.to_ndarray(format="bgr24"), self.rotation)
        return Captured(np.ascontiguousarray(image), pts)

    def _pts_of(self, frame: av.VideoFrame) -> float:
        """Stream pts in seconds (shifted per loop); estimated when the stream has none."""
        t = frame.time
        if t is None:
            t = (self._last_pts - self._offset + self._frame_step) if self._last_pts is not None else 0.0
        pts = float(t) + self._offset
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1e-6  # keep pts strictly increasing for downstream muxers
        self._last_pts = pts
        return pts

    def _restart(self) -> None:
        """Reopen the file for the next loop; pts continue one frame after the last."""
        self._offset = (self._last_pts or 0.0) + self._frame_step
        self.close()
        self._open_container()
        first = self._next_frame()
        if first is not None and first.time is not None:
            self._offset -= float(first.time)
        self._pending = first
        log.debug("looping %s (offset %.3f s)", self.target, self._offset)


def _reason(exc: BaseException) -> str:
    """One line from an FFmpeg/OS error, without the file name repeated."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__

"""A network stream OBS (or ffplay, VLC) can take: H.264 in MPEG-TS over UDP, through PyAV.

For streamers who cannot load v4l2loopback (Secure Boot, immutable distributions) or who want
the picture on another machine: OBS's Media Source plays ``udp://@:PORT`` directly. Settings
are for the least delay: x264 ``ultrafast`` + ``zerolatency`` (no B-frames, no look-ahead,
frame threads off), a keyframe every second (a reader that joins late waits at most that), SPS
and PPS before every keyframe, the muxer's preload and delay at 0 and every packet flushed at
once, in 1316-byte datagrams (7 TS packets: no IP fragmentation).

SRT (``srt://``) works where the FFmpeg inside PyAV was built with libsrt; the wheels of PyAV
are not, and the sink then says so before the run starts. Timestamps are the frames' capture
times, so a stalled camera shows as a held picture, not a sped-up one.
"""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from typing import Any
from urllib.parse import urlparse

import av

from realtime.errors import ConfigError, SinkError
from realtime.frame import Frame
from realtime.sinks.base import SinkBase, SinkContext

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)
SCHEMES = ("udp", "srt")
TS_PACKETS_PER_DATAGRAM = 7  # 7 x 188 bytes = 1316: fits an Ethernet MTU with IP/UDP headers


def check_url(url: str) -> str:
    """``url`` if it is a stream address we can send to (udp://host:port, srt://host:port)."""
    parsed = urlparse(url)
    if parsed.scheme not in SCHEMES or not parsed.hostname or not parsed.port:
        raise ConfigError(
            f"--stream-url must look like udp://HOST:PORT or srt://HOST:PORT, got {url!r}",
            fix="e.g. --stream-url udp://127.0.0.1:5600 (OBS: Media Source, input udp://@:5600)",
        )
    return url


def _close_quietly(container: Any) -> None:
    try:
        container.close()
    except (av.error.FFmpegError, OSError) as exc:
        log.debug("closing a stream that did not open: %r", exc)


class StreamSink(SinkBase):
    """Encodes each frame it is given and sends it at once. Steady: while the camera stalls
    the last frame is sent again, so the reader keeps a live picture."""

    name = "stream"
    steady = True
    retry = True  # a send that fails (the network went away) is retried by the fanout

    def __init__(self, url: str, bitrate: int = 4_000_000, keyframe_s: float = 1.0) -> None:
        self.url = check_url(url)
        self.bitrate = bitrate
        self.keyframe_s = keyframe_s
        self.written = 0
        self._container: Any = None
        self._stream: Any = None
        self._t0: float | None = None
        self._last_pts = -1
        self._lock = threading.Lock()

    def open(self, ctx: SinkContext) -> None:
        if self._container is not None:
            return
        fps = max(1, round(ctx.fps or 30))
        options = {"muxdelay": "0", "muxpreload": "0", "flush_packets": "1"}
        url = self.url
        if url.startswith("udp://") and "pkt_size=" not in url:
            url += ("&" if "?" in url else "?") + f"pkt_size={188 * TS_PACKETS_PER_DATAGRAM}"
        container = av.open(url, mode="w", format="mpegts", container_options=options)
        try:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = ctx.width - ctx.width % 2, ctx.height - ctx.height % 2
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = self.bitrate
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE  # capture times, not frame counts
            gop = max(1, round(fps * self.keyframe_s))
            stream.codec_context.gop_size = gop
            stream.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1:"
                f"vbv-maxrate={self.bitrate // 1000}:vbv-bufsize={self.bitrate // 1000 // fps * 2}",
            }
            container.start_encoding()  # opens the address now: a bad one fails here, not later
        except (av.error.FFmpegError, OSError) as exc:
            _close_quietly(container)
            if urlparse(self.url).scheme == "srt" and "protocol not found" in str(exc).lower():
                raise SinkError(
                    "the FFmpeg inside PyAV here was built without SRT",
                    fix="use --stream-url udp://HOST:PORT, or a PyAV built against an FFmpeg with libsrt",
                ) from exc
            raise SinkError(
                f"cannot open the stream {self.url}: {exc}", fix="check the address and port"
            ) from exc
        except BaseException:
            _close_quietly(container)
            raise
        self._container, self._stream = container, stream
        self._t0, self._last_pts = None, -1
        log.info("streaming H.264/MPEG-TS to %s (%dx%d, %d fps)", self.url, stream.width, stream.height, fps)

    def write(self, frame: Frame) -> None:
        container, stream = self._container, self._stream
        if container is None:
            raise SinkError("stream written before open()", fix="call open(ctx) first")
        image = frame.image
        w, h = stream.width, stream.height
        if image.shape[1] != w or image.shape[0] != h:
            image = image[:h, :w]
        if self._t0 is None:
            self._t0 = frame.captured_at
        pts = max(round((frame.captured_at - self._t0) / float(TIME_BASE)), self._last_pts + 1)
        self._last_pts = pts
        vf = av.VideoFrame.from_ndarray(image, format="bgr24")
        vf.pts, vf.time_base = pts, TIME_BASE
        try:
            for packet in stream.encode(vf):
                container.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise SinkError(f"sending to {self.url} failed: {exc}", fix="check the network") from exc
        with self._lock:
            self.written += 1

    def close(self) -> None:
        container, self._container = self._container, None
        stream, self._stream = self._stream, None
        if container is None:
            return
        try:
            for packet in stream.encode():
                container.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            log.debug("flushing the stream: %r", exc)
        finally:
            container.close()

"""What each output is, as data: the plan's sink specs (``realtime.sinks.registry`` makes each
sink from its spec)."""

from __future__ import annotations

from dataclasses import dataclass

SINK_NAMES = ("vcam", "window", "file", "mjpeg", "stream", "null")  # what --sink takes


@dataclass(frozen=True)
class FileOutput:
    """A video file (``realtime.sinks.file.FileSink``). ``keep_pts``: the input's timeline (a
    file job); otherwise the frames' capture times (a live recording)."""

    path: str
    codec: str = "libx264"
    crf: int = 20
    preset: str = "veryfast"
    tune: str | None = None
    bitrate: int | None = None
    size: tuple[int, int] | None = None
    audio_from: str | None = None
    loop_audio: bool = False  # the input loops (``--loop``): its audio starts over with it
    keep_pts: bool = False
    overwrite: bool = False


@dataclass(frozen=True)
class ImageOutput:
    """A still image (``realtime.sinks.image.ImageFileSink``); ``require_face``: a photo in
    which no face was found is not written (there was a swap to do)."""

    path: str
    overwrite: bool = False
    require_face: bool = True


@dataclass(frozen=True)
class VcamOutput:
    backend: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class MjpegOutput:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None


@dataclass(frozen=True)
class StreamOutput:
    """H.264 in MPEG-TS to a ``udp://`` or ``srt://`` address (``realtime.sinks.stream``)."""

    url: str
    bitrate: int = 4_000_000


@dataclass(frozen=True)
class WindowOutput:
    """The preview window (OpenCV HighGUI)."""

    title: str = "realtime"


@dataclass(frozen=True)
class NullOutput:
    """Frames counted and dropped (benchmarks, a panel-only run)."""


@dataclass(frozen=True)
class PanelPreview:
    """The control panel's preview of the output (``realtime.sinks.preview``)."""


SinkSpec = (
    FileOutput
    | ImageOutput
    | VcamOutput
    | MjpegOutput
    | StreamOutput
    | WindowOutput
    | NullOutput
    | PanelPreview
)

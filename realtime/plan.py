"""What a run is, as data: a source, a processor chain, sinks and a ring policy.

Live, file, still and bench are one ``Plan`` with different parts, built by the one
``realtime.app.build``. Each part holds only the small typed config of the component it
makes, never the whole settings object, so a flag is honoured (or refused) the same way in
every mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from realtime.errors import ConfigError
from realtime.faces.config import AnalysisSettings
from realtime.swap.config import EnhanceConfig, SwapConfig

MODES = ("live", "file", "still", "bench")


@dataclass(frozen=True)
class SourceSpec:
    """Where frames come from. ``kind``: camera, video (a file or URL), image, synthetic.

    ``live``: read with the latest-wins policy at the source's pace (a camera, a stream, the
    demo); otherwise every frame is processed, in order (file and still mode)."""

    kind: str
    target: str | None = None
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    live: bool = True
    loop: bool = False
    until: float | None = None  # video: end at this media time (a looped file job's --duration)
    api: str | None = None  # OpenCV capture backend (camera)
    faces: int = 1  # synthetic: people in the scene
    precompute: int = 0  # synthetic: frames rendered ahead
    face_scale: float = 1.0  # synthetic: relative size of each person (small: far away)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("camera", "video", "image", "synthetic"):
            raise ConfigError(f"unknown source kind {self.kind!r}")
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise ConfigError("size and fps must be positive")


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
class PlainOutput:
    """A sink with nothing to configure: ``window`` or ``null``."""

    kind: str


SinkSpec = FileOutput | ImageOutput | VcamOutput | MjpegOutput | PlainOutput


@dataclass(frozen=True)
class ChainSpec:
    """The processors, in order: face analysis, swap, enhancer, landmark overlay. A part that
    is ``None`` does not run; ``photos`` are still decoded (and checked) when nothing runs."""

    analysis: AnalysisSettings | None = None
    swap: SwapConfig | None = None
    enhance: EnhanceConfig | None = None
    landmarks: bool = False
    photos: tuple[str, ...] = ()
    still: bool = False  # one photo, not a stream: analyse it as a photo (no tracking)


@dataclass(frozen=True)
class Layout:
    """How the threads are laid out: ``workers`` data-parallel processing threads, or (one
    worker, ``split``) face analysis and the rest in two stage threads that overlap."""

    workers: int = 1
    split: bool = True
    hang_timeout_s: float = 2.0
    fps: float | None = None  # output pace; None follows the source

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError("--workers must be at least 1")


@dataclass(frozen=True)
class Plan:
    mode: str
    source: SourceSpec
    chain: ChainSpec = ChainSpec()
    sinks: tuple[SinkSpec, ...] = ()
    layout: Layout = Layout()
    duration: float | None = None
    watch_faces: bool = False  # reload the --face photos when they change on disk
    info: dict[str, Any] = field(default_factory=dict)  # shown in stats (mode, what runs, ...)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}")
        if not self.sinks:
            raise ConfigError("a run needs at least one output")

    @property
    def live(self) -> bool:
        return self.source.live

    def outputs(self, kind: type) -> list[SinkSpec]:
        return [s for s in self.sinks if isinstance(s, kind)]

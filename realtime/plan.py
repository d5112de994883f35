"""What a run is, as data: a source, a processor chain, sinks and a ring policy.

Live, file, still and bench are one ``Plan`` with different parts, built by the one
``realtime.app.build``. Each part holds only the small typed config of the component it
makes, never the whole settings object, so a flag is honoured (or refused) the same way in
every mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from realtime.enhance.config import EnhanceConfig
from realtime.errors import ConfigError
from realtime.faces.config import AnalysisSettings
from realtime.sinks.specs import (
    SINK_NAMES,
    FileOutput,
    ImageOutput,
    MjpegOutput,
    NullOutput,
    PanelPreview,
    SinkSpec,
    StreamOutput,
    VcamOutput,
    WindowOutput,
)
from realtime.sources.spec import SourceSpec
from realtime.swap.config import SwapConfig

__all__ = [
    "MODES",
    "SINK_NAMES",
    "ChainSpec",
    "FileOutput",
    "ImageOutput",
    "Layout",
    "MjpegOutput",
    "NullOutput",
    "OnDemand",
    "PanelPreview",
    "Plan",
    "SinkSpec",
    "SourceSpec",
    "StreamOutput",
    "Threads",
    "VcamOutput",
    "WindowOutput",
]

MODES = ("live", "file", "still", "bench")


@dataclass(frozen=True)
class OnDemand:
    """Outputs a running plan can add (the panel's record and virtual camera buttons), made
    from the run's own settings: a recording takes ``record`` with its path filled in."""

    record: FileOutput = field(default_factory=lambda: FileOutput("", preset="ultrafast", tune="zerolatency"))
    vcam: VcamOutput = field(default_factory=VcamOutput)


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
    live: bool = False  # a live source: newcomers are looked for beside the frames
    check_photos: bool = False  # log how each user photo will hold up (not the bundled demo face)
    on_miss: str = "pass"  # a face not swapped: hold | blur | pass (``realtime.pipeline.guard``)


@dataclass(frozen=True)
class Threads:
    """Each library's thread pool (``realtime.resources.thread_plan``): ONNX Runtime intra-op
    threads per session, numba's pool and OpenCV's. Applied once at start-up
    (``realtime.resources.apply_threads``)."""

    ort: int = 1
    numba: int = 1
    opencv: int = 1


@dataclass(frozen=True)
class Layout:
    """How the threads are laid out: ``workers`` data-parallel processing threads, or (one
    worker, ``split``) face analysis and the rest in two stage threads that overlap."""

    workers: int = 1
    split: bool = True
    hang_timeout_s: float = 2.0
    fps: float | None = None  # output pace; None follows the source
    threads: Threads = Threads()


@dataclass(frozen=True)
class Plan:
    mode: str
    source: SourceSpec
    chain: ChainSpec = ChainSpec()
    sinks: tuple[SinkSpec, ...] = ()
    layout: Layout = Layout()
    duration: float | None = None
    watch_faces: bool = False  # reload the --face photos when they change on disk
    on_demand: OnDemand = OnDemand()
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

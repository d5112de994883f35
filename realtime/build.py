"""The one wiring point: a ``Plan`` -> source, processors, sinks -> ``Pipeline``.

Live, file, still and bench runs are all assembled here and nowhere else, each part from its
own small config, so the whole shape of any run can be read in one file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtime.errors import InputError
from realtime.frame import Frame
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.plan import (
    ChainSpec,
    FileOutput,
    ImageOutput,
    MjpegOutput,
    PlainOutput,
    Plan,
    SinkSpec,
    SourceSpec,
    VcamOutput,
)
from realtime.processor import Processor
from realtime.sinks.base import Sink
from realtime.sources.base import Source

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Frames out so far (and those in which no face was found), for a progress bar."""

    done: int
    total: int | None
    no_face: int
    elapsed_s: float

    @property
    def fps(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


class FrameCounter:
    """Counts the frames that leave the pipeline and reports progress (called by the output
    thread only)."""

    thread_safe = False

    def __init__(self, source: Source, on_progress: Callable[[Progress], None] | None, faces: bool) -> None:
        self.source = source
        self.on_progress = on_progress
        self.faces = faces
        self.done = 0
        self.no_face = 0
        self.t0 = time.monotonic()

    @property
    def total(self) -> int | None:
        duration, fps = getattr(self.source, "duration", None), getattr(self.source, "fps", None)
        return round(duration * fps) if duration and fps else None

    def __call__(self, frame: Frame) -> None:
        if self.done == 0:
            self.t0 = time.monotonic()
        self.done += 1
        if self.faces and not frame.faces:
            self.no_face += 1
        if self.on_progress is not None:
            self.on_progress(Progress(self.done, self.total, self.no_face, time.monotonic() - self.t0))


@dataclass
class Run:
    """A built plan: the pipeline and what the app reads back after it ran."""

    plan: Plan
    pipeline: Pipeline
    processors: list[Processor]
    counter: FrameCounter
    info: dict[str, Any] = field(default_factory=dict)
    reloader: Any = None


def make_source(spec: SourceSpec) -> Source:
    """The frame source the spec names, not yet opened."""
    if spec.kind == "synthetic":
        from realtime.sources.synthetic import SyntheticSource

        return SyntheticSource(
            width=spec.width,
            height=spec.height,
            fps=spec.fps,
            live=spec.live,
            seed=spec.seed,
            faces=spec.faces,
            precompute=spec.precompute,
            face_scale=spec.face_scale,
        )
    assert spec.target is not None
    if spec.kind == "camera":
        from realtime.sources.camera import CameraSource

        device: int | str = int(spec.target) if spec.target.isdigit() else spec.target
        return CameraSource(device, width=spec.width, height=spec.height, fps=spec.fps, api=spec.api)
    if spec.kind == "image":
        from realtime.sources.image import ImageSource

        return ImageSource(spec.target, fps=spec.fps, once=not spec.live)
    from realtime.sources.video import VideoSource

    return VideoSource(spec.target, realtime=spec.live, loop=spec.loop, until=spec.until)


def make_sink(spec: SinkSpec) -> Sink:
    """One output from its config (``realtime.sinks.SINKS`` names them for ``--sink``)."""
    from realtime.sinks import SINKS

    if isinstance(spec, FileOutput):
        from realtime.sinks.file import FileSink

        return FileSink(
            spec.path,
            codec=spec.codec,
            crf=spec.crf,
            preset=spec.preset,
            tune=spec.tune,
            audio_from=spec.audio_from,
            size=spec.size,
            bitrate=spec.bitrate,
            keep_pts=spec.keep_pts,
            overwrite=spec.overwrite,
        )
    if isinstance(spec, ImageOutput):
        from realtime.sinks.image import ImageFileSink

        return ImageFileSink(spec.path, overwrite=spec.overwrite, require_face=spec.require_face)
    if isinstance(spec, VcamOutput):
        return SINKS["vcam"](backend=spec.backend, device=spec.device)  # type: ignore[no-any-return]
    if isinstance(spec, MjpegOutput):
        return SINKS["mjpeg"](host=spec.host, port=spec.port, token=spec.token)  # type: ignore[no-any-return]
    assert isinstance(spec, PlainOutput)
    return SINKS[spec.kind]()  # type: ignore[no-any-return]


def build_chain(chain: ChainSpec, on_build: Any = None) -> tuple[list[Processor], dict[str, Any], Any]:
    """(processors in the order they run, what was chosen and why, the face reloader).

    Source photos are prepared here, before any camera is opened, so a photo with no face
    stops the program before anything else happens.
    """
    from realtime.sources.image import load_image

    info: dict[str, Any] = {}
    processors: list[Processor] = []
    for photo in chain.photos:
        if not Path(photo).is_file():
            raise InputError(f"--face file not found: {photo}", fix="give the path of a photo with one face")
    if chain.analysis is None:
        for photo in chain.photos:  # still check that the photo decodes
            load_image(photo)
        return processors, info, None
    from realtime.faces.analysis import FaceAnalyzer

    swap = chain.swap
    provider = swap.models.provider if swap else None
    analyzer = FaceAnalyzer(chain.analysis, provider=provider, on_build=on_build, still=chain.still)
    processors.append(analyzer)
    reloader = None
    if swap is not None:
        swapper, chosen, why = make_swapper(swap, analyzer, on_build)
        info["swapper"], info["swapper_reason"] = chosen, why
        log.info("swapper: %s (%s)", chosen, why)
        if swap.models.remote and chosen != "mesh":
            from realtime.remote.guard import guard

            swapper = guard(swapper, swap, analyzer, info)
        processors.append(swapper)
        from realtime.swap.reload import FaceReloader

        reloader = FaceReloader([Path(f) for f in swap.faces], swapper, analyzer, swap.face_index)
        if chain.enhance is not None:
            from realtime.swap.build import build_enhancer

            enhancer = build_enhancer(chain.enhance, on_build)
            if chain.enhance.models.remote:
                from realtime.remote.guard import guard_enhancer

                enhancer = guard_enhancer(enhancer, chain.enhance.models, info)
            processors.append(enhancer)
    if chain.landmarks:
        from realtime.faces.overlay import LandmarkOverlay

        processors.append(LandmarkOverlay())
    return processors, info, reloader


def make_swapper(config: Any, analyzer: Any, on_build: Any = None) -> tuple[Processor, str, str]:
    """The swap processor ``config`` asks for, its name, and the reason it was chosen."""
    from realtime.inference.session import available_backends
    from realtime.swap import swapper_factory
    from realtime.swap.choose import choose_swapper

    usable = [n for n, why in available_backends().items() if why is None]
    provider = config.models.provider
    if provider:
        usable = [n for n in usable if n == provider]
    chosen, why = choose_swapper(
        config.swapper, config.models.models_dir, usable, remote=config.models.remote
    )
    return swapper_factory(chosen)(config, analyzer, on_build=on_build), chosen, why


def _provider_in_use(processors: list[Processor]) -> str | None:
    for p in processors:
        prov = getattr(p, "provider", None)
        if isinstance(prov, str):
            return prov
    return None


def build(
    plan: Plan,
    *,
    on_build: Any = None,
    on_progress: Callable[[Progress], None] | None = None,
    chain: tuple[list[Processor], dict[str, Any], Any] | None = None,
) -> Run:
    """Everything the plan asks for, wired, not yet started. ``on_build`` shows a TensorRT
    engine build while it happens; ``chain`` reuses processors already built (the bench)."""
    processors, info, reloader = chain if chain is not None else build_chain(plan.chain, on_build)
    for key, value in plan.info.items():  # into the chain's own dict: a guard reports there live
        info.setdefault(key, value)
    sinks = [make_sink(s) for s in plan.sinks]
    source = make_source(plan.source)
    layout = plan.layout
    cfg = PipelineConfig(
        workers=layout.workers, live=plan.live, fps=layout.fps, hang_timeout_s=layout.hang_timeout_s
    )
    info["sinks"] = [s.name for s in sinks]
    provider = _provider_in_use(processors)
    if provider:
        info["provider"] = provider
    stages = None
    if layout.split and layout.workers == 1 and len(processors) > 1:
        stages = [processors[:1], processors[1:]]  # analysis | swap and overlay
    counter = FrameCounter(source, on_progress, faces=plan.chain.analysis is not None)
    pipeline = Pipeline(
        source,
        processors,
        sinks,
        cfg,
        stages=stages,
        status_extra=lambda: dict(info),
        on_reload_face=reloader.reload_async if reloader else None,
        on_output=counter,
    )
    pipeline.stats.info = info  # the same dict: live state (the remote's) reaches the final stats
    return Run(plan, pipeline, processors, counter, info, reloader)

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

from realtime.enhance.factory import build_enhancer
from realtime.errors import InputError
from realtime.faces.analysis import FaceAnalyzer
from realtime.faces.overlay import LandmarkOverlay
from realtime.frame import Frame
from realtime.images import load_image, photos_of
from realtime.inference.session import available_backends
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.pipeline.guard import OutputGuard
from realtime.plan import ChainSpec, Plan, SinkSpec
from realtime.processor import Processor
from realtime.remote.guard import guard, guard_enhancer
from realtime.sinks.base import Sink
from realtime.sinks.registry import make_sink
from realtime.sources.base import Source
from realtime.sources.registry import make_source
from realtime.swap import swapper_factory
from realtime.swap.choose import choose_swapper
from realtime.swap.photo_check import log_photo_checks
from realtime.swap.reload import FaceReloader

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
class Chain:
    """The built processors, in the order they run, and typed handles to the parts a
    controller changes while running (``None`` where that part does not run)."""

    processors: list[Processor] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    analyzer: FaceAnalyzer | None = None
    swapper: Processor | None = None
    enhancer: Processor | None = None
    reloader: FaceReloader | None = None


@dataclass
class Run:
    """A built plan: the pipeline, the chain's parts, and what the app reads back after it
    ran. ``add_output`` makes an output the plan allows while running (``plan.on_demand``)."""

    plan: Plan
    pipeline: Pipeline
    chain: Chain
    counter: FrameCounter

    @property
    def processors(self) -> list[Processor]:
        return self.chain.processors

    @property
    def info(self) -> dict[str, Any]:
        return self.chain.info

    @property
    def reloader(self) -> FaceReloader | None:
        return self.chain.reloader

    def add_output(self, spec: SinkSpec) -> Sink:
        """Make ``spec``'s sink and join it to the pipeline (opened there when it runs: one
        that cannot open raises, the run goes on)."""
        sink = make_sink(spec)
        self.pipeline.add_output(sink)
        return sink


def build_chain(chain: ChainSpec, on_build: Any = None) -> Chain:
    """The processors ``chain`` asks for, what was chosen and why, and the face reloader.

    Source photos are prepared here, before any camera is opened, so a photo with no face
    stops the program before anything else happens.
    """
    built = Chain()
    for photo in chain.photos:
        if not Path(photo).is_file() and not Path(photo).is_dir():
            raise InputError(
                f"--face file not found: {photo}",
                fix="give the path of a photo with one face (or a folder of photos of one person)",
            )
    if chain.analysis is None:
        for photo in chain.photos:  # still check that the photo decodes
            for path in photos_of(photo):
                load_image(path)
        return built
    swap = chain.swap
    provider = swap.models.provider if swap else None
    built.analyzer = FaceAnalyzer(
        chain.analysis, provider=provider, on_build=on_build, still=chain.still, live=chain.live
    )
    built.processors.append(built.analyzer)
    if swap is not None:
        swapper, chosen, why = make_swapper(swap, built.analyzer, on_build)
        built.info["swapper"], built.info["swapper_reason"] = chosen, why
        log.info("swapper: %s (%s)", chosen, why)
        built.swapper = swapper
        if swap.models.remote and chosen != "mesh":
            swapper = guard(swapper, swap, built.analyzer, built.info)
        built.processors.append(swapper)
        if chosen == "mesh" and chain.check_photos:  # how each will hold up (``realtime face check``)
            reports = log_photo_checks([Path(f) for f in swap.faces], built.analyzer)
            built.info["photo_checks"] = [r.to_dict() for r in reports]  # stats and the panel
        built.reloader = FaceReloader([Path(f) for f in swap.faces], swapper, built.analyzer, swap.face_index)
        if chain.enhance is not None:
            built.enhancer = enhancer = build_enhancer(chain.enhance, on_build)
            if chain.enhance.models.remote:
                enhancer = guard_enhancer(enhancer, chain.enhance.models, built.info)
            built.processors.append(enhancer)
    if chain.landmarks:
        built.processors.append(LandmarkOverlay())
    return built


def make_swapper(config: Any, analyzer: Any, on_build: Any = None) -> tuple[Processor, str, str]:
    """The swap processor ``config`` asks for, its name, and the reason it was chosen."""

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
    chain: Chain | None = None,
) -> Run:
    """Everything the plan asks for, wired, not yet started. ``on_build`` shows a TensorRT
    engine build while it happens; ``chain`` reuses processors already built (the bench)."""
    chain = chain if chain is not None else build_chain(plan.chain, on_build)
    processors, info = chain.processors, chain.info
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
    reloader = chain.reloader
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
    if plan.chain.swap is not None and plan.chain.on_miss != "pass":
        pipeline.output_filter = OutputGuard(plan.chain.on_miss, report=info)
    return Run(plan, pipeline, chain, counter)

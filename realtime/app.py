"""The one wiring point: ``Settings`` -> source, processors, sinks -> ``Pipeline``.

Everything the program runs is assembled here and nowhere else, so the whole shape of a run
can be read in one file. Library code below this never reads global state.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError, InputError
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.processor import Processor
from realtime.settings import Settings
from realtime.sinks.base import Sink
from realtime.sources.base import Source

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
DEMO_SOURCE_FACE = ASSETS / "faces" / "astronaut.jpg"
DEMO_TARGET_FACE = ASSETS / "faces" / "grace_hopper.jpg"
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"}


def is_url(s: str) -> bool:
    return "://" in s


def is_image_path(s: str) -> bool:
    return Path(s).suffix.lower() in IMAGE_EXTS


def mode_of(settings: Settings) -> str:
    """``still`` (image in, image out), ``file`` (video in, video out, nothing dropped) or
    ``live`` (camera, stream, demo, or anything shown in a window or virtual camera)."""
    src, out = settings.source, settings.output
    if src.input and out.output and not out.sinks:
        if is_image_path(src.input):
            return "still"
        if not is_url(src.input):
            return "file"
    return "live"


def check_settings(settings: Settings) -> None:
    """Refuse contradictory settings with one clear line each."""
    src, out = settings.source, settings.output
    chosen = [n for n, v in (("--camera", src.camera), ("--input", src.input), ("--demo", src.demo)) if v]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)} cannot be used together", fix="choose one source")
    if not chosen:
        raise ConfigError("no source given", fix="use --camera 0, --input FILE or --demo")
    if "file" in out.sinks and not out.output:
        raise ConfigError("--sink file needs --output PATH")
    if out.output and src.input and not is_url(src.input):
        if Path(out.output).resolve() == Path(src.input).resolve():
            raise ConfigError("--output is the same file as --input", fix="choose another output path")
    if src.width <= 0 or src.height <= 0 or src.fps <= 0:
        raise ConfigError("size and fps must be positive")
    if settings.pipeline.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if out.mjpeg_host not in ("127.0.0.1", "localhost", "::1") and not out.mjpeg_token:
        raise ConfigError(
            f"the MJPEG preview on {out.mjpeg_host} needs --token",
            fix="bind to 127.0.0.1 or give --token SECRET",
        )


def default_sinks(settings: Settings) -> tuple[str, ...]:
    out = settings.output
    if out.sinks:
        return out.sinks
    if out.output:
        return ("file",)
    return ("vcam",)


def make_source(settings: Settings) -> Source:
    """The frame source the settings name, not yet opened."""
    src = settings.source
    live = mode_of(settings) == "live"
    if src.demo:
        from realtime.sources.synthetic import SyntheticSource

        return SyntheticSource(width=src.width, height=src.height, fps=src.fps)
    if src.camera is not None:
        from realtime.sources.camera import CameraSource

        device: int | str = int(src.camera) if src.camera.isdigit() else src.camera
        return CameraSource(device, width=src.width, height=src.height, fps=src.fps, api=src.api)
    assert src.input is not None
    if is_image_path(src.input) and not is_url(src.input):
        from realtime.sources.image import ImageSource

        return ImageSource(src.input, fps=src.fps)
    from realtime.sources.video import VideoSource

    return VideoSource(src.input, realtime=live, loop=src.loop)


def make_sinks(settings: Settings, names: tuple[str, ...]) -> list[Sink]:
    from realtime.sinks import SINKS

    out = settings.output
    live = mode_of(settings) == "live"
    sinks: list[Sink] = []
    for name in names:
        if name not in SINKS:
            raise ConfigError(f"unknown sink {name!r}", fix=f"choose from {', '.join(sorted(SINKS))}")
        cls: Any = SINKS[name]
        if name == "vcam":
            sinks.append(cls(backend=out.vcam_backend, device=out.vcam_device))
        elif name == "file":
            assert out.output is not None
            # A live recording shares two cores with the swap: encode fast, with no look-ahead.
            preset = out.preset or ("ultrafast" if live else "veryfast")
            tune = "zerolatency" if live and out.codec in ("libx264", "libx265") else None
            sinks.append(
                cls(out.output, codec=out.codec, crf=out.crf, preset=preset, tune=tune, overwrite=out.force)
            )
        elif name == "mjpeg":
            sinks.append(cls(host=out.mjpeg_host, port=out.mjpeg_port, token=out.mjpeg_token))
        else:
            sinks.append(cls())
    return sinks


def make_processors(settings: Settings, on_build: Any = None) -> tuple[list[Processor], dict[str, Any]]:
    """Face analysis, the swapper, and the debug overlay, in the order they run.

    Source photos are prepared here, before any camera is opened, so a photo with no face
    stops the program before anything else happens.
    """
    info: dict[str, Any] = {}
    processors: list[Processor] = []
    faces = list(settings.face)
    if settings.source.demo and not faces:
        faces = [str(DEMO_SOURCE_FACE)]
    for f in faces:
        if not Path(f).is_file():
            raise InputError(f"--face file not found: {f}", fix="give the path of a photo with one face")
    swapper_name = settings.swapper
    want_swap = bool(faces) and swapper_name != "none"
    if not want_swap and not settings.draw_landmarks:
        for f in faces:  # still check that the photo decodes
            from realtime.sources.image import load_image

            load_image(f)
        return processors, info

    from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer

    try:
        analysis = AnalysisSettings(**settings.faces)
    except TypeError as exc:
        raise ConfigError(f"[faces]: {exc}") from exc
    analyzer = FaceAnalyzer(analysis, provider=settings.provider, on_build=on_build)
    processors.append(analyzer)
    if want_swap:
        swapper, chosen, why = make_swapper(
            swapper_name, [Path(f) for f in faces], settings, analyzer, on_build=on_build
        )
        info["swapper"] = chosen
        info["swapper_reason"] = why
        log.info("swapper: %s (%s)", info["swapper"], why)
        if settings.remote and chosen != "mesh":
            from realtime.remote.guard import guard

            swapper = guard(swapper, settings, [Path(f) for f in faces], analyzer, info)
        processors.append(swapper)
        from realtime.swap.reload import FaceReloader

        info["reloader"] = FaceReloader([Path(f) for f in faces], swapper, analyzer, settings.face_index)
        if settings.enhance:
            from realtime.swap.build import build_enhancer

            enhancer = build_enhancer(settings, on_build)
            if settings.remote:
                from realtime.remote.guard import guard_enhancer

                enhancer = guard_enhancer(enhancer, settings, info)
            processors.append(enhancer)
    if settings.draw_landmarks:
        from realtime.faces.overlay import LandmarkOverlay

        processors.append(LandmarkOverlay())
    return processors, info


def _section(cls: type, values: dict[str, Any], section: str) -> Any:
    """A settings dataclass of a processor from a ``[section]`` table, naming unknown keys."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"[{section}]: unknown key(s) {', '.join(sorted(unknown))}",
            fix=f"known keys: {', '.join(sorted(known))}",
        )
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"[{section}]: {exc}") from exc


def make_swapper(
    name: str, face_paths: list[Path], settings: Settings, analyzer: Any, *, on_build: Any = None
) -> tuple[Processor, str, str]:
    """The swap processor the settings ask for, its name, and the reason it was chosen."""
    from realtime.inference.session import available_backends
    from realtime.swap.choose import choose_swapper

    usable = [n for n, why in available_backends().items() if why is None]
    if settings.provider:
        usable = [n for n in usable if n == settings.provider]
    chosen, why = choose_swapper(name, settings.models_dir, usable, remote=settings.remote)
    from realtime.swap import swapper_factory

    return swapper_factory(chosen)(face_paths, settings, analyzer, on_build=on_build), chosen, why


def build_pipeline(settings: Settings, on_build: Any = None) -> Pipeline:
    """Everything for a live or file run, wired, not yet started. ``on_build`` shows a
    TensorRT engine build (first run on a GPU) while it happens."""
    check_settings(settings)
    mode = mode_of(settings)
    processors, info = make_processors(settings, on_build)
    sinks = make_sinks(settings, default_sinks(settings))
    source = make_source(settings)
    cfg = PipelineConfig(
        workers=settings.pipeline.workers,
        live=(mode == "live"),
        hang_timeout_s=settings.pipeline.hang_timeout_s,
    )
    info.update({"mode": mode, "sinks": [s.name for s in sinks], "platform": platform.system()})
    provider = _provider_in_use(processors)
    if provider:
        info["provider"] = provider
    stages = None
    if settings.pipeline.split and settings.pipeline.workers == 1 and len(processors) > 1:
        stages = [processors[:1], processors[1:]]  # analysis | swap and overlay
    reloader = info.pop("reloader", None)
    pipeline = Pipeline(
        source,
        processors,
        sinks,
        cfg,
        stages=stages,
        status_extra=lambda: dict(info),
        on_reload_face=reloader.reload_async if reloader else None,
    )
    pipeline.stats.info = info  # the same dict: live remote state reaches the final stats
    pipeline.face_reloader = reloader  # type: ignore[attr-defined]
    return pipeline


def _provider_in_use(processors: list[Processor]) -> str | None:
    for p in processors:
        prov = getattr(p, "provider", None)
        if isinstance(prov, str):
            return prov
    return None


def run(
    settings: Settings,
    on_start: Callable[[Pipeline], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    on_build: Any = None,
) -> dict[str, Any]:
    """Run the program the settings describe and return the final stats (or job summary)."""
    mode = mode_of(settings)
    if mode == "file":
        check_settings(settings)
        from realtime.jobs.video import run_file_job

        processors, info = make_processors(settings, on_build)
        info.pop("reloader", None)
        return run_file_job(settings, processors, info, on_start=on_start, on_progress=on_progress)
    if mode == "still":
        check_settings(settings)
        from realtime.swap.still import swap_image

        if not settings.face:
            raise ConfigError("a still image needs --face PHOTO")
        return swap_image(
            [Path(f) for f in settings.face],
            Path(settings.source.input or ""),
            Path(settings.output.output or ""),
            settings,
        )
    pipeline = build_pipeline(settings, on_build)
    reloader = getattr(pipeline, "face_reloader", None)
    if on_start is not None:
        on_start(pipeline)
    if reloader is not None and mode == "live":
        reloader.start()  # a new --face photo saved over the old one is picked up live
    try:
        return pipeline.run(duration=settings.duration)
    finally:
        if reloader is not None:
            reloader.stop()


def configure_threads(plan: dict[str, Any]) -> int:
    """Apply OpenCV's share of ``realtime.resources.thread_plan``: the pipeline already runs a
    thread per stage, and oversubscribing two cores costs more than it gains."""
    import cv2

    n = int(plan.get("opencv", 1))
    cv2.setNumThreads(n)
    return n

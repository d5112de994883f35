"""The program: ``Settings`` -> one ``Plan`` -> ``build`` -> run -> what the user gets.

This is the only module that reads ``Settings``: it turns them into a plan (live, file,
still), in which every component has its own small config. ``run`` then builds and runs the
plan and decides what the run achieved, which is the exit-code contract:

- every output complete: the result is returned (exit 0);
- bad input or settings: a ``RealtimeError`` before anything runs (exit 2);
- a failure during the run: ``RunFailed`` after every output is finalised, naming the partial
  output that was kept (exit 1);
- stopped by a signal: the result says ``interrupted`` (the CLI exits 130 or 143).
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from realtime.build import Progress, Run, build
from realtime.errors import ConfigError, NoFaceError, RunFailed
from realtime.paths import check_input_file, resolved, same_file
from realtime.pipeline import Pipeline
from realtime.plan import (
    ChainSpec,
    FileOutput,
    ImageOutput,
    Layout,
    MjpegOutput,
    PlainOutput,
    Plan,
    SinkSpec,
    SourceSpec,
    VcamOutput,
)
from realtime.settings import Settings
from realtime.swap.config import EnhanceConfig, ModelAccess, SwapConfig

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
DEMO_SOURCE_FACE = ASSETS / "faces" / "astronaut.jpg"
DEMO_TARGET_FACE = ASSETS / "faces" / "grace_hopper.jpg"
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
CODECS = {"h264": "libx264", "h265": "libx265", "hevc": "libx265", "vp9": "libvpx-vp9"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")

__all__ = ["Progress", "RunFailed", "check_settings", "mode_of", "plan_from_settings", "run"]


def is_url(s: str) -> bool:
    return "://" in s


def is_image_path(s: str) -> bool:
    return Path(s).suffix.lower() in IMAGE_EXTS


def mode_of(settings: Settings) -> str:
    """``still`` (image in, image out), ``file`` (video in, video out, nothing dropped) or
    ``live`` (camera, stream, demo, or anything shown in a window or virtual camera)."""
    src, out = settings.source, settings.output
    # A preview window beside the file output keeps it a file job (the window is added).
    plain = not out.sinks or (set(out.sinks) <= {"file", "window"} and "file" in out.sinks)
    if src.input and out.output and plain:
        if is_image_path(src.input) and not out.sinks:
            return "still"
        if not is_url(src.input) and not is_image_path(src.input):
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
    if out.output and resolved(out.output).is_dir():  # found now, not after the whole run
        raise ConfigError(f"--output is a folder: {out.output}", fix="name a file in it, e.g. out.mp4")
    if src.input and not is_url(src.input):
        kind = "image" if is_image_path(src.input) else "video"
        check_input_file(src.input, kind)  # a missing file or a symlink loop: one line
        if out.output and same_file(out.output, src.input):
            raise ConfigError("--output is the same file as --input", fix="choose another output path")
    if src.width <= 0 or src.height <= 0 or src.fps <= 0:
        raise ConfigError("size and fps must be positive")
    if out.mjpeg_host not in LOOPBACK and not out.mjpeg_token:
        raise ConfigError(
            f"the MJPEG preview on {out.mjpeg_host} needs --token",
            fix="bind to 127.0.0.1 or give --token SECRET",
        )
    if settings.stats_json:
        _check_stats_json(settings)
    if mode_of(settings) == "file" and src.loop and not settings.duration:
        raise ConfigError("--loop in a file job never ends", fix="give --duration SECONDS as well")
    if mode_of(settings) == "still" and not settings.face:
        raise ConfigError("a still image needs --face PHOTO")
    if out.output and not is_image_path(out.output) and ("file" in out.sinks or not out.sinks):
        from realtime.sinks.encoder import check_encoder  # PyAV: loaded only for a recording

        check_encoder(CODECS.get(out.codec.lower(), out.codec), out.preset, out.bitrate, out.crf)
    if settings.enhance_every < 1:
        raise ConfigError(f"--enhance-every must be >= 1, got {settings.enhance_every}")


def _check_stats_json(settings: Settings) -> None:
    """``--stats-json`` is an output like any other: never the input or another output, never
    over an existing file without ``--force``, in a folder that exists and can be written."""
    path, out = settings.stats_json, settings.output
    assert path is not None
    target = resolved(path)
    if not target.parent.is_dir():
        raise ConfigError(f"--stats-json folder does not exist: {Path(path).parent}", fix="create it first")
    for flag, other in (("--input", settings.source.input), ("--output", out.output), ("--face", None)):
        if other and not is_url(other) and same_file(path, other):
            raise ConfigError(
                f"--stats-json is the same file as {flag}", fix="choose another --stats-json path"
            )
    for photo in settings.face:
        if same_file(path, photo):
            raise ConfigError("--stats-json is the same file as a --face photo", fix="choose another path")
    if target.is_dir():
        raise ConfigError(
            f"--stats-json is a folder: {path}", fix=f"name a file in it, e.g. {Path(path) / 'stats.json'}"
        )
    if target.exists() and not out.force:
        raise ConfigError(f"--stats-json file exists: {path}", fix="choose another name or pass --force")
    if not os.access(target.parent, os.W_OK):
        raise ConfigError(
            f"cannot write --stats-json in {target.parent}", fix="choose a folder you can write to"
        )


def _source_spec(settings: Settings, mode: str) -> SourceSpec:
    src = settings.source
    w, h, fps = src.width, src.height, src.fps
    if src.demo:
        return SourceSpec("synthetic", width=w, height=h, fps=fps)
    if src.camera is not None:
        return SourceSpec("camera", src.camera, api=src.api, width=w, height=h, fps=fps)
    assert src.input is not None
    kind = "image" if is_image_path(src.input) and not is_url(src.input) else "video"
    # A looped file job ends at --duration seconds of video (its output's length, not wall time).
    until = settings.duration if mode == "file" and src.loop else None
    return SourceSpec(
        kind, src.input, live=mode == "live", loop=src.loop, until=until, width=w, height=h, fps=fps
    )


def _sink_specs(settings: Settings, mode: str) -> tuple[SinkSpec, ...]:
    out = settings.output
    if mode == "still":
        swap = bool(settings.face) and settings.swapper != "none"
        return (ImageOutput(str(out.output), overwrite=out.force, require_face=swap),)
    names = out.sinks or (("file",) if out.output else ("vcam",))
    specs: list[SinkSpec] = []
    for name in names:
        if name == "file":
            assert out.output is not None
            live = mode == "live"
            size = tuple(out.size) if out.size else None
            if size is not None and (len(size) != 2 or min(size) < 2):
                raise ConfigError(f"--output-size must look like 1280x720, got {out.size}")
            specs.append(
                FileOutput(
                    out.output,
                    codec=CODECS.get(out.codec.lower(), out.codec),
                    crf=out.crf,
                    # A live recording shares two cores with the swap: fast, no look-ahead.
                    preset=out.preset or ("ultrafast" if live else "veryfast"),
                    tune="zerolatency" if live and out.codec in ("libx264", "h264", "libx265") else None,
                    bitrate=out.bitrate,
                    size=size,  # type: ignore[arg-type]
                    audio_from=settings.source.input if (not live and out.audio) else None,
                    keep_pts=not live,
                    overwrite=out.force,
                )
            )
        elif name == "vcam":
            specs.append(VcamOutput(out.vcam_backend, out.vcam_device))
        elif name == "mjpeg":
            specs.append(MjpegOutput(out.mjpeg_host, out.mjpeg_port, out.mjpeg_token))
        elif name in ("window", "null"):
            specs.append(PlainOutput(name))
        else:
            from realtime.sinks import SINKS

            raise ConfigError(f"unknown sink {name!r}", fix=f"choose from {', '.join(sorted(SINKS))}")
    return tuple(specs)


def _chain_spec(settings: Settings) -> ChainSpec:
    faces = tuple(settings.face) or ((str(DEMO_SOURCE_FACE),) if settings.source.demo else ())
    models = ModelAccess(settings.provider, settings.models_dir, settings.trust_unverified)
    if settings.remote:
        from realtime.remote.guard import FILE_PATIENCE_S

        live = mode_of(settings) == "live"
        models = replace(
            models,
            remote=settings.remote,
            # Live: a call may take two frames, then the newest frame wins. Files: ten seconds,
            # and a lost server is waited for, so no frame leaves unswapped.
            remote_budget_ms=2000.0 / settings.source.fps if live else 10000.0,
            remote_fallback=settings.remote_fallback,
            remote_patience_s=0.0 if live else FILE_PATIENCE_S,
        )
    want_swap = bool(faces) and settings.swapper != "none"
    if not want_swap and not settings.draw_landmarks:
        if settings.enhance:
            raise ConfigError(
                "--enhance needs a swap", fix="give --face PHOTO and a --swapper other than none"
            )
        return ChainSpec(photos=faces)
    swap = None
    if want_swap:
        swap = SwapConfig(
            swapper=settings.swapper,
            faces=faces,
            face_index=settings.face_index,
            face_select=settings.face_select,
            reference=tuple(settings.reference),
            mesh=settings.swap,
            models=models,
        )
    enhance = EnhanceConfig(settings.enhance, settings.enhance_every, models) if settings.enhance else None
    still = mode_of(settings) == "still"
    return ChainSpec(settings.faces, swap, enhance, settings.draw_landmarks, photos=faces, still=still)


def plan_from_settings(settings: Settings) -> Plan:
    """The run the settings describe, checked: a flag that cannot apply is refused here."""
    check_settings(settings)
    mode = mode_of(settings)
    p = settings.pipeline
    chain = _chain_spec(settings)
    what = {  # what runs, as asked: in the stats, so a run can be checked afterwards
        "swapper": settings.swapper if chain.swap else "none",
        "face_select": settings.face_select,
        "provider": settings.provider or "auto",
        "enhance": settings.enhance,
        "workers": p.workers,
        "detector": settings.faces.detector,
        "detect_every": settings.faces.detect_every,
        "remote": settings.remote,
    }
    return Plan(
        mode=mode,
        source=_source_spec(settings, mode),
        chain=chain,
        sinks=_sink_specs(settings, mode),
        layout=Layout(workers=p.workers, split=p.split, hang_timeout_s=p.hang_timeout_s),
        duration=settings.duration if mode == "live" else None,
        watch_faces=mode == "live",
        info={"mode": mode, "platform": platform.system(), "plan": what},
    )


def _outputs(run: Run) -> list[dict[str, Any]]:
    out = []
    for report, sink in zip(run.pipeline.outputs(), run.pipeline.sinks):
        entry: dict[str, Any] = {"name": report.name, "written": report.written, "skipped": report.skipped}
        if report.path:
            entry["path"] = report.path
            saved = getattr(sink, "frames_saved", None)
            entry["saved"] = saved if saved is not None else getattr(sink, "written", report.written)
            partial = getattr(sink, "temp_path", None)
            if partial is not None and Path(partial).exists():
                entry["partial"] = str(partial)
            if hasattr(sink, "encoder_changes"):  # a recording: the encoder it ended with, and why
                entry["encoder"] = getattr(sink, "encoder", None)
                entry["encoder_changes"] = sink.encoder_changes
        if report.error is not None:
            entry["error"] = str(report.error)
        out.append(entry)
    return out


def _promised(run: Run) -> int | None:
    """The frames the input's header says it holds (exact, unlike duration x rate)."""
    source = run.pipeline.source
    return None if getattr(source, "loop", False) else getattr(source, "promised", None)


def _short_input(run: Run, result: dict[str, Any]) -> RunFailed | None:
    """An input that ended before the frames its header promised (cut short, damaged)."""
    source, read = run.pipeline.source, run.pipeline.stats.captured
    promised, why = _promised(run), getattr(source, "cut_short", None)
    # A couple of frames may be dropped by the container's edit list (encoder delay): not short.
    if not (promised and read < promised * 0.99 - 2) and not why:
        return None
    got = f"{read} of the {promised} frames its header promised" if promised else f"{read} frames"
    cause = f" ({why})" if why else ""
    kept = (
        f"; partial output kept: {result['output']} ({result['frames']} frames)" if result["frames"] else ""
    )
    return RunFailed(
        f"the input {run.plan.source.target} ended early: {got} were read{cause}{kept}",
        fix="the input is damaged or was cut short; copy it again or re-encode it",
        result=result,
    )


def _summary(run: Run, stats: dict[str, Any], seconds: float) -> dict[str, Any]:
    plan, counter = run.plan, run.counter
    result = dict(stats)
    result["outputs"] = _outputs(run)
    result["interrupted"] = not plan.live and not run.pipeline.source_ended and run.pipeline.fatal is None
    if plan.mode in ("file", "still"):
        main = result["outputs"][0]
        done = counter.done
        result.update(
            input=plan.source.target,
            output=main.get("path"),
            frames=main.get("saved", 0),
            frames_expected=_promised(run) or counter.total if plan.mode == "file" else 1,
            frames_without_face=counter.no_face if counter.faces else None,
            seconds=round(seconds, 3),
            fps=round(done / seconds, 2) if seconds > 0 else 0.0,
            audio=next((m for s in run.pipeline.sinks if (m := getattr(s, "audio_mode", None))), "none"),
        )
        fps = getattr(run.pipeline.source, "fps", None)
        result["realtime_factor"] = round(result["fps"] / fps, 2) if fps and plan.mode == "file" else None
    return result


def _judge(run: Run, result: dict[str, Any]) -> None:
    """Raise what went wrong, if anything did, once every output is finalised."""
    plan, pipeline = run.plan, run.pipeline
    kept = [
        f"{o['path']} ({o['saved']} frames)" for o in result["outputs"] if o.get("path") and o.get("saved")
    ]
    partial = f"; partial output kept: {', '.join(kept)}" if kept else ""
    if pipeline.fatal is not None:
        raise RunFailed(f"{pipeline.fatal}{partial}", result=result) from pipeline.fatal
    failed = [o for o in result["outputs"] if o.get("error")]
    if failed:
        raise RunFailed("; ".join(f"output {o['name']}: {o['error']}" for o in failed), result=result)
    thinned = [o for o in result["outputs"] if o.get("path") and o.get("skipped")]
    if thinned:  # a recording is complete only with every frame it was given (README, Exit codes)
        from realtime.sinks.file import SKIP_FIX

        raise RunFailed(
            "; ".join(
                f"{o['path']} is incomplete: {o.get('saved', 0)} of "
                f"{o.get('saved', 0) + o['skipped']} frames "
                f"saved, {o['skipped']} skipped because the encoder could not keep up even with "
                f"{o.get('encoder', 'its fastest setting')}"
                for o in thinned
            ),
            fix=SKIP_FIX,
            result=result,
        )
    if plan.mode == "still":
        sink = pipeline.sinks[0]
        if getattr(sink, "no_face", False):
            raise NoFaceError(
                f"no face found in the input image {plan.source.target}",
                fix="use an image with a clear, visible face",
            )
    if plan.mode == "file" and not result["interrupted"]:
        short = _short_input(run, result)
        if short is not None:
            raise short
        lost = pipeline.stats.captured - result["frames"]
        if lost > 0:
            raise RunFailed(
                f"{result['output']} is incomplete: {result['frames']} of {pipeline.stats.captured} frames",
                result=result,
            )
        if run.counter.faces and result["frames"] and result["frames_without_face"] == result["frames"]:
            log.warning("no face was found in any of the %d frames: nothing was swapped", result["frames"])


def run(
    plan: Plan,
    on_start: Callable[[Pipeline], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_build: Any = None,
    on_finalising: Callable[[list[Any]], None] | None = None,
    on_built: Callable[[Run], None] | None = None,
) -> dict[str, Any]:
    """Build the plan, run it, and return the result (see the module's exit contract).
    ``on_built`` gets the built run before it starts (the control panel attaches there)."""
    import time

    built = build(plan, on_build=on_build, on_progress=on_progress)
    if on_built is not None:
        on_built(built)
    pipeline = built.pipeline
    pipeline.on_finalising = on_finalising
    if on_start is not None:
        on_start(pipeline)
    t0 = time.monotonic()
    pipeline.start()  # a source or an output that cannot open: raised as it is (bad input)
    if built.reloader is not None and plan.watch_faces:
        built.reloader.start()  # a new --face photo saved over the old one is picked up live
    try:
        pipeline.wait(duration=plan.duration)
    finally:
        pipeline.stop()
        pipeline.join()
        if built.reloader is not None:
            built.reloader.stop()
    result = _summary(built, pipeline.status(), time.monotonic() - t0)
    _judge(built, result)
    return result


def configure_threads(plan: dict[str, Any]) -> int:
    """Apply OpenCV's share of ``realtime.resources.thread_plan``: the pipeline already runs a
    thread per stage, and oversubscribing two cores costs more than it gains."""
    import cv2

    n = int(plan.get("opencv", 1))
    cv2.setNumThreads(n)
    return n
